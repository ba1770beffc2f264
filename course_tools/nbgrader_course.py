"""An nbgrader course built from the course notebooks and their answers: ``course nbgrader DIR``.

The folder it writes is a complete nbgrader course: ``nbgrader_config.py``, and under
``source/`` one assignment per task that has exercises::

    source/welcome/welcome.ipynb
    source/mlp/keras.ipynb   source/mlp/tensorflow.ipynb   source/mlp/pytorch.ipynb
    source/cnn/...           source/rnn/...

**Layout: one notebook per framework in each assignment, and the student does one.** Each task
notebook imports one framework only, and its exercises are written in that framework's API; a
"learner's choice" notebook would have to hold three versions of every cell and guess which one
the student ran. With one notebook per framework, each is a plain course notebook with nbgrader's
metadata, ``nbgrader validate`` checks each on its own, and the feedback shows the student the
notebook they wrote. nbgrader gives a notebook that was not submitted zero points, so the
assignment's total counts all three: the course's export plugin
(:class:`course_tools.nbgrader_export.BestNotebookExport`, set in ``nbgrader_config.py``) reports,
per student and assignment, the best notebook's score out of one notebook's points.

Every cell carries nbgrader's cell metadata (schema 3). Each notebook is first answered from
its solutions file, between nbgrader's markers (:func:`course_tools.answers.answered_notebook`).
A cell that answers an exercise is then split into up to three cells:

- the lines before ``### BEGIN SOLUTION`` (such as the logits the answer works on): read-only, and
  ending with ``exercises.record(...)``, which records those inputs in the cell's output as it runs;
- the answer, between the markers: a solution cell, which ``nbgrader generate_assignment`` clears;
- the ``exercises.check(...)`` line, as ``exercises.require(...)``: a graded test cell worth
  :data:`POINTS`. It gives the student the instant ✓ or ✗ (where the class has a judge), and records
  the answer as plain values in its output.

The grade does not come from what the student's kernel prints: the grader judges the recorded
values in a process of its own, with the references, after running the submission in a sandbox
(:mod:`course_tools.grading`, set up in ``nbgrader_config.py``). Every other cell, setup and training
included, is read-only. A first read-only cell sets the course's fast mode (the bundled sample, few
epochs), so that the autograder retrains each notebook well within its time limits, and withholds
the worked solutions (``COURSE_SOLUTIONS=withheld``) unless the course is built with ``--show-solutions``.
"""

from __future__ import annotations

import ast
import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from course_utils import config
from course_utils.tasks import FRAMEWORKS

import nbformat

from .answers import BEGIN_SOLUTION, answered_notebook, exercise_id, solution_code, solution_regions
from .notebooks import task_folders, without_check_marks

POINTS = 1  # per exercise: every exercise is a short one
SCHEMA_VERSION = 3  # nbgrader 0.9's cell metadata schema (nbgrader/nbgraderformat/v3.json)
WELCOME = "00_welcome.ipynb"
# nbgrader's per-cell limit. In fast mode the slowest cell of the ten notebooks, the PyTorch CNN's
# training, took 30.5 s on two cores (the RNNs' 13-20 s, the MLPs' 3-15 s): over nbgrader's default of
# 30 s. Cores shared with other work slow it a lot: while another job trained, the whole PyTorch RNN
# notebook took 130 s instead of 23 s. Ten times the slowest cell covers such a server.
CELL_TIMEOUT_S = 300
# The whole notebook, replays after a dead kernel or a stopped cell included: the slowest notebook took
# about 80 s in fast mode on two idle cores, so a submission that kills its kernel twice still fits.
NOTEBOOK_TIMEOUT_S = 1800
# An answer cell: a few lines that count parameters or take two optimizer steps, under a second here.
ANSWER_TIMEOUT_S = 120
# The sandbox's processes together: a task notebook's kernel peaked at 1.51 GB (docs/instructor.md).
MEMORY_LIMIT_GB = 3.0


def slug(exercise: str) -> str:
    """An exercise id as it appears in grade ids: ``mlp.wider`` → ``mlp-wider``."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", exercise)


# What `course nbgrader` writes into nbgrader_config.py: the pipelines with the course's preprocessors.
GRADING_CONFIG = """
# Grading that a student's code cannot change (course_tools/grading.py): read-only cells that were
# edited are noted and put back, removed graded cells are added back, each submission runs in a
# bubblewrap sandbox (apt-get install bubblewrap) with a time limit per cell and per notebook, and the
# answers it records are judged here, with the references that the sandbox cannot see.
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, ClearOutput, DeduplicateIds, IgnorePattern, LimitOutput,
    OverwriteCells, OverwriteKernelspec,
)
from course_tools.grading import (  # noqa: E402
    JudgeRecordedAnswers, MarkTamperedCells, SandboxedExecute, SaveCourseGrades,
)

c.Autograde.sanitize_preprocessors = [
    ClearOutput, DeduplicateIds, OverwriteKernelspec, MarkTamperedCells, OverwriteCells, CheckCellMetadata
]
c.Autograde.autograde_preprocessors = [
    SandboxedExecute, JudgeRecordedAnswers, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
    SaveCourseGrades, AssignLatePenalties, CheckCellMetadata,
]
c.OverwriteCells.add_missing_cells = True
c.SandboxedExecute.timeout = {cell_timeout}  # per read-only cell (training), in seconds
c.SandboxedExecute.answer_timeout = {answer_timeout}  # per answer cell
c.SandboxedExecute.notebook_timeout = {notebook_timeout}  # the whole notebook, replays after a failure included
c.SandboxedKernelManager.memory_limit_gb = {memory_gb}
"""

CONFIG_TEMPLATE = (
    '''\
"""nbgrader's settings for this course, written by `course nbgrader` (course_tools/nbgrader_course.py)."""

c = get_config()  # noqa: F821 (nbgrader defines it when it reads this file)

c.CourseDirectory.course_id = {course_id!r}

# The assignments are graded in the course's fast mode (each notebook's first cell sets COURSE_FAST=1).
# Its slowest cell, the PyTorch CNN's training, took 30.5 s on two cores, over nbgrader's default
# of 30 s, and several times longer while other work shares the cores: the limit is ten times that.
# Raise it a lot if you grade in full mode (COURSE_FAST=0 in the autograder's environment).
c.Execute.timeout = {timeout}

# Each assignment has one notebook per framework and a student submits one: report the best
# notebook's score, out of one notebook's points, and what needs review (`nbgrader export` writes grades.csv).
c.ExportApp.plugin_class = "course_tools.nbgrader_export.BestNotebookExport"
'''
    + GRADING_CONFIG
)


@dataclass
class CourseReport:
    """What :func:`build_course` wrote."""

    notebooks: list[Path]
    exercises: int  # graded test cells, one per exercise and notebook


def assignment_sources(frameworks: tuple[str, ...] = FRAMEWORKS) -> dict[str, list[Path]]:
    """Each assignment's name and the instructor notebooks it holds: the welcome, then each task's."""
    sources = {"welcome": [config.NOTEBOOKS_DIR / WELCOME]}
    for folder in task_folders():
        sources[folder.name.split("_", 1)[1]] = [folder / f"{name}.ipynb" for name in frameworks]
    return sources


def nbgrader_metadata(grade_id: str, *, locked: bool = False, solution: bool = False, points: int = 0) -> dict:
    """nbgrader's metadata for a cell: graded when it has points, a solution, or read-only."""
    metadata = {
        "grade": points > 0,
        "grade_id": grade_id,
        "locked": locked,
        "schema_version": SCHEMA_VERSION,
        "solution": solution,
    }
    if points:
        metadata["points"] = points
    return metadata


GRADED_NOTE = (
    "This is the graded version of the notebook. Write each answer in the cell under its exercise; the "
    "read-only cell after it checks it and records it for grading. When you submit, the grader runs your "
    f"notebook again and judges each recorded answer itself: {POINTS} point per exercise. An answer that "
    "raises an error, or stops the kernel, costs that exercise only. Run every cell from the top before "
    "you submit."
)


def graded_prose(source: str) -> str:
    """Markdown ``source`` with a paragraph that names the solution markers replaced by :data:`GRADED_NOTE`.

    nbgrader reads ``### BEGIN SOLUTION`` anywhere in a line as the start of an answer to clear,
    prose included.
    """
    paragraphs = source.split("\n\n")
    return "\n\n".join(GRADED_NOTE if BEGIN_SOLUTION in paragraph else paragraph for paragraph in paragraphs)


def setup_cell(withhold_solutions: bool) -> nbformat.NotebookNode:
    """The read-only first code cell: fast mode, and whether ``exercises.solution`` shows answers."""
    lines = [
        "# Graded assignment: the course's fast mode (the bundled sample, a few epochs), so that the",
        "# autograder retrains the model within its time limit. Full-mode accuracy is for another day.",
        "import os",
        "",
        'os.environ.setdefault("COURSE_FAST", "1")',
    ]
    if withhold_solutions:
        lines.append('os.environ["COURSE_SOLUTIONS"] = "withheld"  # the worked answers; exercises.hint still helps')
    cell = nbformat.v4.new_code_cell("\n".join(lines), id="course-settings")
    cell.metadata["nbgrader"] = nbgrader_metadata("course-settings", locked=True)
    return cell


def _code_cell(source: str, metadata: dict, template: nbformat.NotebookNode) -> nbformat.NotebookNode:
    # Ids made from the instructor cell's and the grade id: a rebuild writes the same notebook.
    cell = nbformat.v4.new_code_cell(source, id=f"{template.get('id', 'cell')}-{metadata['grade_id']}"[:64])
    cell.metadata = {**copy.deepcopy(template.metadata), "nbgrader": metadata}
    return cell


def recorded_inputs(test: str) -> dict[str, str]:
    """The keyword inputs of a check line, ``logits=first_logits`` → ``{"logits": "first_logits"}``, but framework."""
    call = ast.parse(test.strip()).body[0].value  # type: ignore[attr-defined]
    return {word.arg: ast.unparse(word.value) for word in call.keywords if word.arg and word.arg != "framework"}


def exercise_cells(cell: nbformat.NotebookNode, number: int) -> list[nbformat.NotebookNode]:
    """An instructor cell that answers an exercise, as read-only inputs, a solution, and a graded test."""
    lines = cell.source.splitlines()
    regions = solution_regions(cell.source)
    begin, end = regions[0][0], regions[-1][1]
    given, answer, test = "\n".join(lines[:begin]), "\n".join(lines[begin : end + 1]), "\n".join(lines[end + 1 :])
    # The graded test records the answer for the grader, and raises for a wrong one as instant feedback.
    test = test.replace("exercises.check(", "exercises.require(")
    name = exercise_id(test)
    if name is None:  # an answer with no check after it: a solution cell, graded by hand if at all
        return [_code_cell(cell.source, nbgrader_metadata(f"answer-{number:02d}", solution=True), cell)]
    grade_slug = slug(name)
    inputs = recorded_inputs(test)
    if inputs:  # recorded as the read-only cell makes them: the answer cell cannot change them afterwards
        keywords = ", ".join(f"{keyword}={value}" for keyword, value in inputs.items())
        given = f'{given}\nexercises.record("{name}", {keywords})'.strip("\n")
    cells = []
    if given.strip():
        cells.append(_code_cell(given, nbgrader_metadata(f"{grade_slug}-given", locked=True), cell))
    cells.append(_code_cell(answer, nbgrader_metadata(f"{grade_slug}-answer", solution=True), cell))
    cells.append(_code_cell(test, nbgrader_metadata(f"{grade_slug}-check", locked=True, points=POINTS), cell))
    return cells


def assignment_notebook(notebook: nbformat.NotebookNode, withhold_solutions: bool = True) -> nbformat.NotebookNode:
    """An instructor notebook as an nbgrader source notebook: every cell with nbgrader's metadata."""
    source = copy.deepcopy(notebook)
    source.metadata.pop("widgets", None)
    cells: list[nbformat.NotebookNode] = []
    for number, cell in enumerate(source.cells):
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            # nbval's marks and recorded outputs mean nothing to nbgrader, and an output could give an answer away.
            without_check_marks(cell)
            cell.outputs, cell.execution_count = [], None
            if not any(c.cell_type == "code" for c in cells):
                cells.append(setup_cell(withhold_solutions))
            if solution_regions(cell.source):
                cells += exercise_cells(cell, number)
                continue
        elif cell.cell_type == "markdown":
            cell.source = graded_prose(cell.source)
        cell.metadata["nbgrader"] = nbgrader_metadata(f"cell-{number:02d}", locked=True)
        cells.append(cell)
    source.cells = cells
    return source


def build_course(
    out: Path,
    frameworks: tuple[str, ...] = FRAMEWORKS,
    assignments: tuple[str, ...] | None = None,
    withhold_solutions: bool = True,
    course_id: str = "course",
) -> CourseReport:
    """Write an nbgrader course into ``out``: ``nbgrader_config.py`` and ``source/<assignment>/``."""
    out.mkdir(parents=True, exist_ok=True)
    settings = {
        "cell_timeout": CELL_TIMEOUT_S,
        "answer_timeout": ANSWER_TIMEOUT_S,
        "notebook_timeout": NOTEBOOK_TIMEOUT_S,
        "memory_gb": MEMORY_LIMIT_GB,
    }
    config_text = CONFIG_TEMPLATE.format(course_id=course_id, timeout=CELL_TIMEOUT_S, **settings)
    (out / "nbgrader_config.py").write_text(config_text)
    report = CourseReport(notebooks=[], exercises=0)
    for assignment, paths in assignment_sources(frameworks).items():
        if assignments is not None and assignment not in assignments:
            continue
        for path in paths:
            notebook = assignment_notebook(answered_notebook(path, markers=True), withhold_solutions)
            target = out / "source" / assignment / (path.name if assignment != "welcome" else "welcome.ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
            report.notebooks.append(target)
            report.exercises += sum(cell.metadata["nbgrader"]["grade"] for cell in notebook.cells)
    return report


def cells_by_grade_id(notebook: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The cells that carry nbgrader's metadata, by their grade id."""
    return {cell.metadata["nbgrader"]["grade_id"]: cell for cell in notebook.cells if "nbgrader" in cell.metadata}


def answered(
    released: nbformat.NotebookNode, source: nbformat.NotebookNode, changes: Mapping[str, str | None]
) -> nbformat.NotebookNode:
    """A copy of the ``released`` notebook answered as ``source`` answers it, except ``changes``.

    ``changes`` maps a solution cell's grade id to the code a student wrote there, or to None for a
    cell left as released (nbgrader's ``raise NotImplementedError()``). Tests and tests/hub/run_class.py
    play students with it.
    """
    answers = {grade_id: solution_code(cell.source) for grade_id, cell in cells_by_grade_id(source).items()}
    notebook = copy.deepcopy(released)
    for grade_id, cell in cells_by_grade_id(notebook).items():
        if cell.metadata["nbgrader"]["solution"]:
            answer = changes.get(grade_id, answers[grade_id])
            cell.source = cell.source if answer is None else answer
    return notebook
