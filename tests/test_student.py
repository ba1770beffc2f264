"""Student versions: no solution survives the build, and a student notebook fails only at its stubs."""

from __future__ import annotations

from pathlib import Path

from course_utils import config
from course_utils.exercises import core

import nbformat
import pytest
from nbclient import NotebookClient

from course_tools import cli, notebooks, slides, student

MLP_PYTORCH = config.NOTEBOOKS_DIR / "01_mlp" / "pytorch.ipynb"


def solution_only_lines(notebook: nbformat.NotebookNode) -> set[str]:
    """Lines that occur inside solutions and nowhere else in the notebook: the ones that must not leak."""
    inside, outside = set(), set()
    for cell in notebook.cells:
        lines = cell.source.splitlines()
        regions = core.solution_regions(cell.source)
        covered = {number for begin, end in regions for number in range(begin, end + 1)}
        for number, line in enumerate(lines):
            (inside if number in covered else outside).add(line.strip())
    return {line for line in inside - outside if line and line not in (core.BEGIN_SOLUTION, core.END_SOLUTION)}


def test_strip_solutions_keeps_the_rest_and_indents_the_stub() -> None:
    source = "\n".join(
        [
            "x = 1",
            "def f():",
            "    ### BEGIN SOLUTION",
            "    return 42",
            "    ### END SOLUTION",
            "### BEGIN SOLUTION",
            "y = f()",
            "### END SOLUTION",
            "check(y)",
        ]
    )
    assert student.strip_solutions(source, "STUB").splitlines() == ["x = 1", "def f():", "    STUB", "STUB", "check(y)"]
    assert core.solution_code(source) == "return 42\ny = f()"


@pytest.mark.parametrize(
    "source, problem",
    [
        ("### BEGIN SOLUTION\nx = 1", "never closed"),
        ("x = 1\n### END SOLUTION", "without a ### BEGIN SOLUTION"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", "inside another"),
    ],
)
def test_unpaired_markers_are_refused_with_their_line(source: str, problem: str) -> None:
    with pytest.raises(core.SolutionMarkerError, match=problem):
        student.strip_solutions(source, "STUB")


def test_a_bad_cell_is_named_in_the_error() -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell("### BEGIN SOLUTION\nx = 1")]
    )
    with pytest.raises(core.SolutionMarkerError, match="lesson.ipynb, cell 2: line 1"):
        student.student_notebook(notebook, name="lesson.ipynb")


def test_markdown_answers_become_a_prompt() -> None:
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("Why?\n\n### BEGIN SOLUTION\nBecause dropout is off.\n### END SOLUTION")]
    )
    assert student.student_notebook(notebook).cells[0].source == f"Why?\n\n{student.MARKDOWN_STUB}"


def test_the_build_leaves_no_solution_and_one_stub_per_solution(tmp_path: Path) -> None:
    report = student.build_student_versions(tmp_path / "student")
    instructor_paths = notebooks.course_notebooks()
    assert len(report.written) == len(instructor_paths) and not report.kept
    total_regions = 0
    for path in instructor_paths:
        instructor = nbformat.read(path, as_version=4)
        built = nbformat.read(tmp_path / "student" / path.relative_to(config.NOTEBOOKS_DIR), as_version=4)
        regions = sum(len(core.solution_regions(cell.source)) for cell in instructor.cells)
        total_regions += regions
        text = "\n".join(cell.source for cell in built.cells)
        markers = {core.BEGIN_SOLUTION, core.END_SOLUTION}
        assert not [line for line in text.splitlines() if line.strip() in markers]
        built_lines = {line.strip() for line in text.splitlines()}
        leaked = solution_only_lines(instructor) & built_lines
        assert not leaked, f"{path.name} leaks solution lines {sorted(leaked)}"
        stubs = [cell for cell in built.cells if cell.cell_type == "code" and student.STUB_ERROR in cell.source]
        assert len(stubs) == regions
        assert all(not cell.get("outputs") for cell in built.cells if cell.cell_type == "code")
    assert report.stubs == total_regions > 0


def test_a_rebuild_keeps_a_learners_answers_unless_forced(tmp_path: Path) -> None:
    out = tmp_path / "student"
    student.build_student_versions(out, notebooks=[MLP_PYTORCH])
    target = out / "01_mlp" / "pytorch.ipynb"
    answered = target.read_text().replace("raise NotImplementedError", "wide_params = 1  #")
    target.write_text(answered)
    report = student.build_student_versions(out, notebooks=[MLP_PYTORCH])
    assert report.kept == [target] and target.read_text() == answered
    report = student.build_student_versions(out, notebooks=[MLP_PYTORCH], force=True)
    assert report.written == [target] and "wide_params = 1" not in target.read_text()


def test_the_student_folder_may_not_be_inside_the_notebooks() -> None:
    with pytest.raises(ValueError, match="outside the instructor notebooks"):
        student.build_student_versions(config.NOTEBOOKS_DIR / "student")


def test_course_student_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["student", "--out", str(tmp_path), str(MLP_PYTORCH)]) == 0
    out = capsys.readouterr().out
    assert "1 student notebooks written, 3 exercise stubs" in out
    assert (tmp_path / "01_mlp" / "pytorch.ipynb").is_file()


def test_a_student_notebook_fails_only_at_its_stubs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    built = student.student_notebook(nbformat.read(MLP_PYTORCH, as_version=4))
    monkeypatch.setenv("COURSE_FAST", "1")
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path))  # keep this run's record out of the suite's folder
    NotebookClient(
        built,
        timeout=600,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(MLP_PYTORCH.parent)}},
    ).execute()
    failed = [
        cell
        for cell in built.cells
        if cell.cell_type == "code" and any(output.output_type == "error" for output in cell.outputs)
    ]
    stubbed = [cell for cell in built.cells if cell.cell_type == "code" and student.STUB_ERROR in cell.source]
    assert failed == stubbed and len(stubbed) == 3
    for cell in failed:
        error = next(output for output in cell.outputs if output.output_type == "error")
        assert error.ename == student.STUB_ERROR
        assert error.evalue == f"Exercise {core.exercise_id(cell.source)}: your code here"


def test_slides_start_at_sections_and_exercises(tmp_path: Path) -> None:
    marked = slides.mark_slides(nbformat.read(MLP_PYTORCH, as_version=4))
    kinds = [(cell.source.split("\n", 1)[0], cell.metadata["slideshow"]["slide_type"]) for cell in marked.cells]
    starts = [line for line, kind in kinds if kind == "slide"]
    assert starts[0].startswith("# Task 1") and "## Setup" in starts and "## Exercises" in starts
    assert [line for line, kind in kinds if kind == "subslide"][0] == "### Exercise 1: a wider hidden layer"
    assert cli.main(["slides", "--out", str(tmp_path), str(MLP_PYTORCH)]) == 0
    html = (tmp_path / "01_mlp_pytorch.slides.html").read_text()
    assert "reveal" in html and html.count("<section") >= len(starts)
