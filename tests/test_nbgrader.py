"""``course nbgrader``: the course as nbgrader assignments, graded by nbgrader's own commands.

The course built, its metadata, its configuration and its released notebooks, with the real
``nbgrader`` command line. Grading, honest and hostile submissions, is tests/test_grading.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from course_utils import exercises

import nbformat
import pytest

import course_judges

pytest.importorskip("nbgrader", reason="an instructor's set-up: pip install -r requirements-instructor.txt")
from nbgrader.nbgraderformat import MetadataValidator  # noqa: E402
from traitlets.config import Config  # noqa: E402

from course_tools import answers, cli, nbgrader_course, notebooks  # noqa: E402


def nbgrader(course: Path, *args: str) -> str:
    """Run ``nbgrader ARGS`` in the course folder; fail the test with its log if it fails."""
    done = subprocess.run(
        # autograde of a dozen submissions took 9 minutes on two cores that other work shared
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def test_released_notebook_has_no_solution_and_records_what_the_grader_judges(tmp_path: Path) -> None:
    nbgrader_course.build_course(tmp_path, frameworks=("keras",), assignments=("mlp",))
    nbgrader(tmp_path, "generate_assignment", "mlp")
    assert "Success!" in nbgrader(tmp_path, "validate", "source/mlp/keras.ipynb")
    source = read(tmp_path / "source" / "mlp" / "keras.ipynb")
    released = read(tmp_path / "release" / "mlp" / "keras.ipynb")
    answer_lines = {
        line.strip()
        for cell in source.cells
        if cell.metadata["nbgrader"]["solution"]
        for line in answers.solution_code(cell.source).splitlines()
        if line.strip()
    }
    # Lines such as a lone ")" also occur outside the answers: only the answers' own lines must not leak.
    answer_lines -= {
        line.strip()
        for cell in source.cells
        if not cell.metadata["nbgrader"]["solution"]
        for line in cell.source.splitlines()
    }
    text = "\n".join(cell.source for cell in released.cells)
    assert answer_lines and not answer_lines & {line.strip() for line in text.splitlines()}
    assert answers.BEGIN_SOLUTION not in text
    cells = nbgrader_course.cells_by_grade_id(released)
    assert "exercises.require(" in cells["mlp-softmax-check"].source
    # The logits are recorded by the read-only cell that makes them, before the answer can change them.
    assert cells["mlp-softmax-given"].source.endswith('exercises.record("mlp.softmax", logits=first_logits)')
    assert 'os.environ["COURSE_SOLUTIONS"] = "withheld"' in text  # withheld unless --show-solutions


def test_every_cell_carries_valid_nbgrader_metadata(tmp_path: Path) -> None:
    report = nbgrader_course.build_course(tmp_path)
    task_notebooks = 3 * len(notebooks.task_folders())
    assert len(report.notebooks) == 1 + task_notebooks
    assert report.exercises == len(exercises.EXERCISES) + 2 * (len(exercises.EXERCISES) - 1)  # welcome once
    validator = MetadataValidator()
    for path in report.notebooks:
        notebook = read(path)
        validator.validate_nb(notebook)  # raises on a cell nbgrader would refuse
        metadata = [cell.metadata["nbgrader"] for cell in notebook.cells]
        assert len({meta["grade_id"] for meta in metadata}) == len(metadata), f"{path}: grade ids repeat"
        assert all(meta["schema_version"] == 3 for meta in metadata)
        # Every cell is read-only but the answers, and every graded cell runs the course's own check.
        assert all(meta["locked"] != meta["solution"] for meta in metadata)
        tests = [cell for cell in notebook.cells if cell.metadata["nbgrader"]["grade"]]
        answer_cells = [cell for cell in notebook.cells if cell.metadata["nbgrader"]["solution"]]
        assert len(tests) == len(answer_cells) > 0
        assert all(answers.exercise_id(cell.source) and cell.metadata["nbgrader"]["points"] > 0 for cell in tests)
        first_code = next(cell for cell in notebook.cells if cell.cell_type == "code")
        assert 'os.environ.setdefault("COURSE_FAST", "1")' in first_code.source
    again = nbgrader_course.build_course(tmp_path / "again")
    assert [path.read_bytes() for path in again.notebooks] == [path.read_bytes() for path in report.notebooks]


def test_config_sets_the_cell_timeout_and_the_export(tmp_path: Path) -> None:
    nbgrader_course.build_course(tmp_path, assignments=())
    config = Config()
    exec((tmp_path / "nbgrader_config.py").read_text(), {"get_config": lambda: config})
    assert config.Execute.timeout == nbgrader_course.CELL_TIMEOUT_S >= 30  # nbgrader's own default is 30 s
    assert config.SandboxedExecute.answer_timeout == nbgrader_course.ANSWER_TIMEOUT_S
    assert config.SandboxedExecute.notebook_timeout == nbgrader_course.NOTEBOOK_TIMEOUT_S
    module, name = config.ExportApp.plugin_class.rsplit(".", 1)
    assert name in vars(__import__(module, fromlist=[name]))


def test_the_command_refuses_to_overwrite_a_course(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nbgrader", str(tmp_path), "--frameworks", "pytorch"]) == 0
    assert sorted(path.name for path in (tmp_path / "source" / "mlp").iterdir()) == ["pytorch.ipynb"]
    assert cli.main(["nbgrader", str(tmp_path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli.main(["nbgrader", str(tmp_path), "--force", "--show-solutions"]) == 0
    settings = next(
        cell for cell in read(tmp_path / "source" / "rnn" / "keras.ipynb").cells if cell.cell_type == "code"
    )
    assert "COURSE_SOLUTIONS" not in settings.source


@pytest.mark.parametrize("withheld", [False, True])
def test_instant_feedback_works_in_a_released_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, withheld: bool
) -> None:
    """check, judge and hint answer in a released notebook; solution shows the answer unless withheld."""
    nbgrader_course.build_course(tmp_path, assignments=("welcome",), withhold_solutions=withheld)
    nbgrader(tmp_path, "generate_assignment", "welcome")
    released = tmp_path / "release" / "welcome" / "welcome.ipynb"
    source = read(tmp_path / "source" / "welcome" / "welcome.ipynb")
    nbformat.write(nbgrader_course.answered(read(released), source, {}), released)
    monkeypatch.delenv("COURSE_SOLUTIONS", raising=False)  # the notebook alone decides
    outcome = notebooks.run_notebook(released, save_to=released)
    assert outcome.ok, outcome.error
    printed = "".join(
        output.get("text", "") for cell in read(released).cells if cell.cell_type == "code" for output in cell.outputs
    )
    exercise = exercises.get_exercise("welcome.dense")
    assert f"✓ {exercise.title}" in printed and "Hint 1 of" in printed
    assert ("not available here" in printed) is withheld
    worked = course_judges.worked("welcome.dense")
    assert (worked in " ".join(printed.split())) is not withheld  # solution() wraps it at 100 columns


def test_solution_is_withheld_only_when_the_instructor_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSE_SOLUTIONS", "withheld")
    monkeypatch.setattr(exercises, "_hints_given", type(exercises._hints_given)())  # other tests count hints
    exercises.solution("mlp.wider")
    exercises.hint("mlp.wider")
    shown = capsys.readouterr().out
    assert "not available here" in shown and course_judges.worked("mlp.wider") not in shown and "Hint" in shown
    with pytest.raises(exercises.WrongAnswer, match="✗"):
        exercises.check("mlp.wider", 101_770)
    monkeypatch.delenv("COURSE_SOLUTIONS")
    exercises.solution("mlp.wider")
    assert course_judges.worked("mlp.wider") in " ".join(capsys.readouterr().out.split())
