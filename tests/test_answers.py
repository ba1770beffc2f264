"""The exercises' answers: kept in solutions/, filled in for the tests and nbgrader, never in a learner's notebook."""

from __future__ import annotations

import ast
from pathlib import Path

from course_utils import config
from course_utils.exercises import EXERCISES

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from nbclient import NotebookClient

from course_judges.solutions import answers as answers_of
from course_judges.solutions import sections, solutions_file
from course_tools import answers, cli, notebooks, slides

MLP_PYTORCH = config.NOTEBOOKS_DIR / "01_mlp" / "pytorch.ipynb"
CELL = "\n".join(
    [
        "x = 1",
        "# Your answer: replace each ... below.",
        "wide = ...  # the model",
        "wide_params = ...",
        'check("mlp.wider", wide_params)',
    ]
)


def test_the_stub_block_is_replaced_by_the_answer() -> None:
    solved = {"mlp.wider": "wide = make()\nwide_params = count(wide)"}
    assert answers.answered_source(CELL, solved).splitlines() == [
        "x = 1",
        "wide = make()",
        "wide_params = count(wide)",
        'check("mlp.wider", wide_params)',
    ]
    marked = answers.answered_source(CELL, solved, markers=True).splitlines()
    assert marked[1] == answers.BEGIN_SOLUTION and marked[4] == answers.END_SOLUTION
    assert answers.solution_code("\n".join(marked)) == solved["mlp.wider"]
    indented = "if True:\n    # Your answer\n    w = ...\n    check('mlp.wider', w)"
    assert answers.answered_source(indented, {"mlp.wider": "w = 1"}).splitlines()[1] == "    w = 1"


def test_a_cell_without_stubs_is_left_alone() -> None:
    assert answers.answered_source("y = x[...]\nprint(y)", {}) == "y = x[...]\nprint(y)"


def test_a_missing_answer_and_a_split_block_are_refused_with_their_place() -> None:
    with pytest.raises(answers.AnswerError, match="no '# %% mlp.wider'"):
        answers.answered_source(CELL, {})
    with pytest.raises(answers.AnswerError, match="not one block: lines 1 to 3"):
        answers.stub_block("a = ...\nprint(a)\nb = ...")


def test_every_exercise_cell_has_its_answer_and_every_answer_its_cell() -> None:
    for path in notebooks.course_notebooks():
        asked = [
            answers.exercise_id(cell.source)
            for cell in nbformat.read(path, as_version=4).cells
            if cell.cell_type == "code" and answers.stub_block(cell.source)
        ]
        file = solutions_file(path)
        assert list(sections(file)) == asked if file.is_file() else not asked, path
        answered = answers.answered_notebook(path)
        assert not any(answers.stub_block(cell.source) for cell in answered.cells if cell.cell_type == "code")


def test_each_framework_has_its_own_answer_of_each_task_exercise() -> None:
    for exercise_id in EXERCISES:
        found = answers_of(exercise_id)
        assert set(found) == ({None} if exercise_id.startswith("welcome") else {"keras", "tensorflow", "pytorch"})


def test_no_learner_notebook_holds_an_answer_or_a_test_marker() -> None:
    for path in notebooks.course_notebooks():
        notebook = nbformat.read(path, as_version=4)
        answer_lines = {line.strip() for code in answers.solutions_for(path).values() for line in code.splitlines()}
        answer_lines -= {"", ")", "]", "[", "(", "),"}
        for cell in notebook.cells:
            assert "BEGIN SOLUTION" not in cell.source and "NBVAL_" not in cell.source, path.name
            if answers.stub_block(cell.source):
                lines = {line.strip() for line in cell.source.splitlines()}
                assert not lines & answer_lines, f"{path.name} shows an answer: {sorted(lines & answer_lines)}"
                assert not cell.get("outputs"), f"{path.name}: an exercise cell keeps an output"


def test_no_cell_after_an_exercise_needs_its_answer() -> None:
    """Run All goes on past an exercise left to do, so nothing after it may use the names it asks for."""
    for path in notebooks.course_notebooks():
        asked: set[str] = set()
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type != "code":
                continue
            block = answers.stub_block(cell.source)
            if block:
                lines = cell.source.splitlines()[block[0] : block[1] + 1]
                asked |= {line.split("=")[0].strip() for line in lines if answers.STUB.match(line)}
                continue
            python = TransformerManager().transform_cell(cell.source)  # IPython's %magics as Python
            used = {node.id for node in ast.walk(ast.parse(python)) if isinstance(node, ast.Name)}
            assert not used & asked, f"{path.name} uses {sorted(used & asked)} after the exercise that asks for them"


def test_the_build_writes_answered_notebooks_and_keeps_an_instructors_edits(tmp_path: Path) -> None:
    out = tmp_path / "answered"
    report = answers.build_answered(out, markers=True)
    with_exercises = [path for path in notebooks.course_notebooks() if answers.solutions_for(path)]
    assert len(report.written) == len(with_exercises) == 10 and report.answers == 28
    target = out / "01_mlp" / "pytorch.ipynb"
    assert answers.BEGIN_SOLUTION in target.read_text()
    edited = target.read_text().replace("wide_params = sum", "wide_params = 1 + sum")
    target.write_text(edited)
    report = answers.build_answered(out, notebooks=[MLP_PYTORCH])
    assert report.kept == [target] and target.read_text() == edited
    assert answers.build_answered(out, notebooks=[MLP_PYTORCH], force=True).written == [target]
    with pytest.raises(ValueError, match="must lie outside"):
        answers.build_answered(config.NOTEBOOKS_DIR / "answered")


def test_course_answers_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["answers", "--out", str(tmp_path), str(MLP_PYTORCH)]) == 0
    assert "1 answered notebooks written, 3 answers" in capsys.readouterr().out
    assert "wide_params = sum(" in (tmp_path / "01_mlp" / "pytorch.ipynb").read_text()


def test_a_learners_notebook_runs_through_with_its_exercises_left_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run All, as a learner who has answered nothing: every cell runs, each exercise says it is to do."""
    notebook = nbformat.read(MLP_PYTORCH, as_version=4)
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))  # keep this run's record out of the suite's folder
    monkeypatch.delenv("COURSE_EXERCISES")  # as a learner's kernel: not strict
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(MLP_PYTORCH.parent)}}
    ).execute()  # raises on the first error
    exercise_outputs = [
        "".join(output.get("text", "") for output in cell.outputs)
        for cell in notebook.cells
        if cell.cell_type == "code" and answers.stub_block(cell.source)
    ]
    assert len(exercise_outputs) == 3 and all("yours to do" in text for text in exercise_outputs)
    assert all(len(text.strip().splitlines()) <= 2 for text in exercise_outputs)
    last = notebook.cells[-1]
    assert "drawing_pad" in last.source and last.outputs  # the pad at the end was reached and built


def test_slides_start_at_sections_and_exercises(tmp_path: Path) -> None:
    marked = slides.mark_slides(nbformat.read(MLP_PYTORCH, as_version=4))
    kinds = [(cell.source.split("\n", 1)[0], cell.metadata["slideshow"]["slide_type"]) for cell in marked.cells]
    starts = [line for line, kind in kinds if kind == "slide"]
    assert starts[0].startswith("# Task 1") and "## Setup" in starts and "## Exercises" in starts
    assert [line for line, kind in kinds if kind == "subslide"][0] == "### Exercise 1: a wider hidden layer"
    assert cli.main(["slides", "--out", str(tmp_path), str(MLP_PYTORCH)]) == 0
    html = (tmp_path / "01_mlp_pytorch.slides.html").read_text()
    assert "reveal" in html and html.count("<section") >= len(starts)
