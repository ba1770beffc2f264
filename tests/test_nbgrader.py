"""``course nbgrader``: the course as nbgrader assignments, graded by nbgrader's own commands.

The round trip runs the real ``nbgrader`` command line on the Keras MLP alone, in fast mode
(about 10 s a notebook): generate the released version, validate the source, autograde four
submissions (all right, one wrong answer, one answer left undone, one that overwrites the inputs the
hidden test recomputes), write the feedback and export.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from course_utils import exercises

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="an instructor's set-up: pip install -r requirements-instructor.txt")
from nbgrader.api import Gradebook  # noqa: E402
from nbgrader.nbgraderformat import MetadataValidator  # noqa: E402
from traitlets.config import Config  # noqa: E402

from course_tools import answers, cli, nbgrader_course, notebooks  # noqa: E402

ASSIGNMENT, NOTEBOOK = "mlp", "keras"
WRONG = "mlp-wider-answer"  # the wrong submission counts the 128-unit model's parameters instead
UNDONE = "mlp-momentum-answer"  # the erroring submission leaves nbgrader's stub there, which raises
# Overwrites the logits it was given with zeros, whose softmax is easy: the visible check passes,
# the hidden test, which recomputes the logits, does not.
OVERWRITES = {"mlp-softmax-answer": 'first_logits = np.zeros((5, 10), "float32")\nby_hand = np.full((5, 10), 0.1)'}
SUBMISSIONS = {
    "right": {},
    "wrong": {WRONG: "wide_params = 101_770"},
    "undone": {UNDONE: None},
    "overwrites": OVERWRITES,
    # Unsets the variable that makes a learner's check raise: the graded test cells call require, which raises anyway.
    "unsets": {WRONG: 'import os\n\nos.environ.pop("COURSE_EXERCISES", None)\nwide_params = 101_770'},
}


def nbgrader(course: Path, *args: str) -> str:
    """Run ``nbgrader ARGS`` in the course folder; fail the test with its log if it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args], cwd=course, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout + done.stderr


cells_by_id = nbgrader_course.cells_by_grade_id


def submission(released: Path, source: Path, changes: dict[str, str | None]) -> nbformat.NotebookNode:
    """The released notebook answered as the source answers it, except ``changes`` (None: left undone)."""
    return nbgrader_course.answered(read(released), read(source), changes)


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


@dataclass
class RoundTrip:
    course: Path
    autograde_seconds: float  # every submission, one kernel each


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> RoundTrip:
    course = tmp_path_factory.mktemp("nbgrader-course")
    nbgrader_course.build_course(course, frameworks=(NOTEBOOK,), assignments=(ASSIGNMENT,))
    nbgrader(course, "generate_assignment", ASSIGNMENT)
    released = course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb"
    for student, changes in SUBMISSIONS.items():
        target = course / "submitted" / student / ASSIGNMENT / released.name
        target.parent.mkdir(parents=True)
        nbformat.write(submission(released, course / "source" / ASSIGNMENT / released.name, changes), target)
    start = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT)
    seconds = time.perf_counter() - start
    nbgrader(course, "generate_feedback", ASSIGNMENT)
    nbgrader(course, "export", "--to", "grades.csv")
    return RoundTrip(course, seconds)


def test_released_notebook_has_no_solution_and_no_hidden_test(round_trip: RoundTrip) -> None:
    source = read(round_trip.course / "source" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
    released = read(round_trip.course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb")
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
    for marker in (answers.BEGIN_SOLUTION, nbgrader_course.BEGIN_HIDDEN):
        assert marker not in text
    assert "exercises.require(" in cells_by_id(released)["mlp-softmax-check"].source  # the visible part stays


def test_source_notebook_validates(round_trip: RoundTrip) -> None:
    log = nbgrader(round_trip.course, "validate", f"source/{ASSIGNMENT}/{NOTEBOOK}.ipynb")
    assert "Success! Your notebook passes all the tests." in log


def test_gradebook_holds_each_submissions_score(round_trip: RoundTrip) -> None:
    print(f"autograding {len(SUBMISSIONS)} submissions took {round_trip.autograde_seconds:.1f} s")
    with Gradebook(f"sqlite:///{round_trip.course / 'gradebook.db'}") as gradebook:
        scores = {
            student: {
                grade.name: grade.score for grade in gradebook.find_submission(ASSIGNMENT, student).notebooks[0].grades
            }
            for student in SUBMISSIONS
        }
        total = {student: gradebook.find_submission(ASSIGNMENT, student).score for student in SUBMISSIONS}
        most = gradebook.find_assignment(ASSIGNMENT).max_score
    points = nbgrader_course.POINTS
    full = {"mlp-wider-check": points, "mlp-softmax-check": points, "mlp-momentum-check": points}
    assert most == 3 * points
    assert scores["right"] == full and total["right"] == most
    # A wrong answer loses exactly its exercise's points; an undone one, its own, and the rest are graded.
    assert scores["wrong"] == {**full, "mlp-wider-check": 0} and total["wrong"] == most - points
    assert scores["undone"] == {**full, "mlp-momentum-check": 0} and total["undone"] == most - points
    assert scores["overwrites"] == {**full, "mlp-softmax-check": 0}
    assert scores["unsets"] == {**full, "mlp-wider-check": 0}


def test_feedback_names_the_failing_exercise_with_the_courses_message(round_trip: RoundTrip) -> None:
    feedback = round_trip.course / "feedback" / "wrong" / ASSIGNMENT / f"{NOTEBOOK}.html"
    html = feedback.read_text()
    title = exercises.get_exercise("mlp.wider").title
    problem = exercises.judge("mlp.wider", 101_770)
    assert problem and "mlp.wider" in html and f"✗ {title}" in html
    # The judge's own words about what looks wrong; the message is wrapped at 100 columns as shown.
    assert " ".join(problem.split(".")[0].split()) in " ".join(html.split())
    right = (round_trip.course / "feedback" / "right" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "WrongAnswer" not in right and "WrongAnswer" in html
    assert all(
        f"✓ {exercises.get_exercise(name).title}" in right for name in ("mlp.wider", "mlp.softmax", "mlp.momentum")
    )


def test_export_reports_the_best_notebook_of_each_student(round_trip: RoundTrip) -> None:
    with open(round_trip.course / "grades.csv", newline="") as file:
        rows = {row["student_id"]: row for row in csv.DictReader(file)}
    assert set(rows) == set(SUBMISSIONS)
    scores = {student: float(row["score"]) for student, row in rows.items()}
    assert scores == {"right": 3, "wrong": 2, "undone": 2, "overwrites": 2, "unsets": 2}
    assert {row["notebook"] for row in rows.values()} == {NOTEBOOK}
    assert {float(row["max_score"]) for row in rows.values()} == {3}


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
    module, name = config.ExportApp.plugin_class.rsplit(".", 1)
    assert name in vars(__import__(module, fromlist=[name]))


def test_the_command_refuses_to_overwrite_a_course(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["nbgrader", str(tmp_path), "--frameworks", "pytorch"]) == 0
    assert sorted(path.name for path in (tmp_path / "source" / "mlp").iterdir()) == ["pytorch.ipynb"]
    assert cli.main(["nbgrader", str(tmp_path)]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli.main(["nbgrader", str(tmp_path), "--force", "--withhold-solutions"]) == 0
    settings = next(
        cell for cell in read(tmp_path / "source" / "rnn" / "keras.ipynb").cells if cell.cell_type == "code"
    )
    assert 'os.environ["COURSE_SOLUTIONS"] = "withheld"' in settings.source


@pytest.mark.parametrize("withheld", [False, True])
def test_instant_feedback_works_in_a_released_notebook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, withheld: bool
) -> None:
    """check, judge and hint answer in a released notebook; solution shows the answer unless withheld."""
    nbgrader_course.build_course(tmp_path, assignments=("welcome",), withhold_solutions=withheld)
    nbgrader(tmp_path, "generate_assignment", "welcome")
    released = tmp_path / "release" / "welcome" / "welcome.ipynb"
    nbformat.write(submission(released, tmp_path / "source" / "welcome" / "welcome.ipynb", {}), released)
    monkeypatch.delenv("COURSE_SOLUTIONS", raising=False)  # the notebook alone decides
    outcome = notebooks.run_notebook(released, save_to=released)
    assert outcome.ok, outcome.error
    printed = "".join(
        output.get("text", "") for cell in read(released).cells if cell.cell_type == "code" for output in cell.outputs
    )
    exercise = exercises.get_exercise("welcome.dense")
    assert f"✓ {exercise.title}" in printed and "Hint 1 of" in printed
    assert ("withheld" in printed) is withheld
    assert (exercise.worked in " ".join(printed.split())) is not withheld  # solution() wraps it at 100 columns


def test_solution_is_withheld_only_when_the_instructor_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSE_SOLUTIONS", "withheld")
    monkeypatch.setattr(exercises, "_hints_given", type(exercises._hints_given)())  # other tests count hints
    exercises.solution("mlp.wider")
    exercises.hint("mlp.wider")
    shown = capsys.readouterr().out
    assert "withheld" in shown and exercises.get_exercise("mlp.wider").worked not in shown and "Hint" in shown
    with pytest.raises(exercises.WrongAnswer, match="✗"):
        exercises.check("mlp.wider", 101_770)
    monkeypatch.delenv("COURSE_SOLUTIONS")
    exercises.solution("mlp.wider")
    assert exercises.get_exercise("mlp.wider").worked in " ".join(capsys.readouterr().out.split())
