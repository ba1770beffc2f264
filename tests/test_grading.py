"""Grades an instructor can trust: students who try to cheat, autograded by the real ``nbgrader`` commands.

Each submission below is a released notebook answered as the instructor's source answers it, except
the cells named. ``course nbgrader`` builds the course with its grading pipeline
(course_tools/grading.py): the sandbox, the time limits, and the answers judged out of the student's
reach. Fast mode, about 10 to 20 s a notebook; the Keras MLP gets every cheat, the TensorFlow and
PyTorch MLPs and the Keras CNN a few each, and honest students full marks in all of them.

Each Keras MLP case below is scored as if it were a submission of its own. Cases that change one
exercise each, a different one, share a submission (:data:`SHARED`): each still costs its own
exercise and gives its own reason for review, the exercise that neither touches is answered honestly
and keeps its point, and a submission is a whole notebook run fewer (10 to 20 s each; nbgrader runs
the course's read-only cells afresh for every submission).
Two ``nbgrader autograde`` processes grade half the submissions each, at once: on two idle cores
here the fixture took 160 to 169 s so, 262 s one after the other.
"""

from __future__ import annotations

import csv
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

pytest.importorskip("nbgrader", reason="an instructor's set-up: pip install -r requirements-instructor.txt")
from nbgrader.api import Gradebook  # noqa: E402
from test_nbgrader import nbgrader, read  # noqa: E402

from course_tools import grading, nbgrader_course, sandbox  # noqa: E402

if sandbox.shutil.which("bwrap") is None:  # CI installs it (.ci/run); say so rather than grade unsandboxed
    pytest.skip("bubblewrap is not installed: apt-get install bubblewrap", allow_module_level=True)

ANSWER_TIMEOUT_S = 10  # for this test's loop: an honest answer takes well under a second
WIDER, SOFTMAX, MOMENTUM = "mlp-wider-answer", "mlp-softmax-answer", "mlp-momentum-answer"
ZEROS = {WIDER: "wide_params = 0", SOFTMAX: "by_hand = 0", MOMENTUM: "w_after = 0"}
REPLACES_CHECK = (
    "from course_utils import exercises\n\n"
    "exercises.check = exercises.require = lambda *args, **kwargs: print('✓ right')\n"
    "wide_params = 0"
)
REPLACES_JUDGE = (
    "import course_utils.exercises\n\ncourse_utils.exercises.judge = lambda *args, **kwargs: None\nwide_params = 0"
)
KILLS_KERNEL = "import os\n\nos._exit(1)"
# Reads the references, the gradebook, the course's source notebooks (answers in them) and the other
# submissions, wherever the grader has them: the sandbox shows none of them.
SPIES = """from pathlib import Path
targets = {targets!r}
seen = [target for target in targets if Path(target).exists()]
print("SEEN", seen)
wide_params = 203_530"""


def everyone(code: str) -> dict[str, str]:
    return {WIDER: code.replace("NAME", "wide_params"), SOFTMAX: code.replace("NAME", "by_hand"),
            MOMENTUM: code.replace("NAME", "w_after")}  # fmt: skip


STEALS_SOLUTIONS = everyone(
    "import os\n\nos.environ.pop('COURSE_SOLUTIONS', None)\nfrom course_utils import exercises\n\n"
    "exercises.solution('mlp.wider')\nimport course_judges\n\n"
    "exec(course_judges.answers('mlp.wider')['keras'])\nNAME = 0"
)
# Each submission: the answer cells it changes, and the points it deserves (of 3).
KERAS_MLP: dict[str, tuple[dict[str, str | None], int]] = {
    "right": ({}, 3),
    "all_wrong": (
        {
            WIDER: "wide_params = 101_770",
            SOFTMAX: "by_hand = np.full((5, 10), 0.1)",
            MOMENTUM: "w_after = np.array([1.0, -2.0])",
        },
        0,
    ),  # fmt: skip
    "raises": ({WIDER: "raise ValueError('not today')"}, 2),
    "replaces_check": ({**ZEROS, WIDER: REPLACES_CHECK}, 0),
    "replaces_judge": ({**ZEROS, WIDER: REPLACES_JUDGE}, 0),
    "patches_numpy": ({**ZEROS, WIDER: "import numpy\n\nnumpy.allclose = lambda *a, **k: True\nwide_params = 0"}, 0),
    # The hidden test used to recompute its inputs with the model: the recorded logits are the real ones.
    "replaces_model": (
        {
            SOFTMAX: "class Zeros:\n    def predict(self, x, **kwargs):\n        return np.zeros((len(x), 10))\n\n"
            "model = Zeros()\nfirst_logits = model.predict(x_test[:5])\nby_hand = np.full((5, 10), 0.1)"
        },
        2,
    ),  # fmt: skip
    "imports_references": (everyone("from course_utils.exercises.mlp import WIDE_PARAMS\nNAME = WIDE_PARAMS"), 0),
    "steals_solutions": (STEALS_SOLUTIONS, 0),
    "kills_kernel": ({WIDER: KILLS_KERNEL}, 2),
    "loops_forever": ({WIDER: "while True:\n    try:\n        pass\n    except KeyboardInterrupt:\n        pass"}, 2),
    "always_equal": (
        {
            WIDER: "class Yes(int):\n    def __eq__(self, other):\n        return True\n\n"
            "    __hash__ = int.__hash__\n\nwide_params = Yes(0)"
        },
        2,
    ),  # fmt: skip
    "spies": ({}, 3),  # its wider answer is filled in by the fixture, with the paths it looks for
    # Cells of the submission changed beside the answers (EDITS): a test cell edited, a grade id renamed.
    "edits_test": ({}, 2),
    "renames_id": ({}, 2),
}
# Cases that change one exercise each, each a different one, graded in one submission named by both.
SHARED = [("raises", "edits_test"), ("kills_kernel", "renames_id"), ("always_equal", "replaces_model")]
OTHERS = {  # (assignment, notebook): submissions
    ("mlp", "tensorflow"): {"right": ({}, 3), "replaces_check": ({**ZEROS, WIDER: REPLACES_CHECK}, 0)},
    ("mlp", "pytorch"): {"right": ({}, 3), "kills_kernel": ({MOMENTUM: KILLS_KERNEL}, 2)},
    ("cnn", "keras"): {"right": ({}, 3),
                       "replaces_judge": ({"cnn-third_conv-answer": REPLACES_JUDGE.replace("wide_params", "third_shape")
                                           + "\nthird_params = 0"}, 2)},
}  # fmt: skip
# What failed rather than was wrong: these grades must be marked for review, with a reason.
REVIEWED = {
    "raises": "raised ValueError",
    "kills_kernel": "the kernel died",
    "loops_forever": "time limit",
    "imports_references": "raised ModuleNotFoundError",
    "edits_test": "were edited",
    "renames_id": "missing from the submission",
    "replaces_check": "no answer was recorded",  # the check it put in place records nothing
}


@dataclass
class Graded:
    course: Path
    scores: dict[tuple[str, str, str], float]  # (assignment, notebook, student) → points
    grades: dict[tuple[str, str, str], dict[str, float]]  # the same → {grade id: points}
    reviews: dict[tuple[str, str, str], list[str]]  # the reasons of grades that need review


def submit(course: Path, assignment: str, name: str, student: str, changes: dict, edit=None) -> None:
    released = read(course / "release" / assignment / f"{name}.ipynb")
    notebook = nbgrader_course.answered(released, read(course / "source" / assignment / f"{name}.ipynb"), changes)
    if edit is not None:
        edit(notebook)
    target = course / "submitted" / student / assignment / f"{name}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)


def edit_test(notebook: nbformat.NotebookNode) -> None:
    cell = nbgrader_course.cells_by_grade_id(notebook)["mlp-softmax-check"]
    cell.source = "print('✓ Softmax by hand: right')"


def rename_id(notebook: nbformat.NotebookNode) -> None:
    nbgrader_course.cells_by_grade_id(notebook)["mlp-momentum-check"].metadata["nbgrader"]["grade_id"] = "mine"


EDITS = {"edits_test": edit_test, "renames_id": rename_id}


def keras_mlp_submissions() -> dict[str, tuple[str, ...]]:
    """Each Keras MLP submission's student id, and the cases it holds: one, or a group of SHARED."""
    grouped = {case for group in SHARED for case in group}
    submissions = {"__".join(group): group for group in SHARED}
    return submissions | {case: (case,) for case in KERAS_MLP if case not in grouped}


def student_of(case: str) -> str:
    """The id of the Keras MLP submission that holds ``case``."""
    return next(student for student, cases in keras_mlp_submissions().items() if case in cases)


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    course = tmp_path_factory.mktemp("graded-course")
    nbgrader_course.build_course(course, frameworks=("keras", "tensorflow", "pytorch"), assignments=("mlp", "cnn"))
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(f"c.SandboxedExecute.answer_timeout = {ANSWER_TIMEOUT_S}\n")
    for assignment in ("mlp", "cnn"):
        nbgrader(course, "generate_assignment", assignment)
    import course_judges

    judges = Path(course_judges.__file__).parent
    targets = [str(course / "gradebook.db"), str(course / "source" / "mlp" / "keras.ipynb"),
               str(course / "submitted" / "right" / "mlp" / "keras.ipynb"), str(judges / "__init__.py"),
               str(judges / "solutions" / "01_mlp" / "keras.py")]  # fmt: skip
    for student, cases in keras_mlp_submissions().items():
        changes: dict[str, str | None] = {}
        for case in cases:
            touched = set(KERAS_MLP[case][0]) & set(changes)
            assert not touched, f"{cases} share a submission but both change {touched}"
            changes |= {WIDER: SPIES.format(targets=targets)} if case == "spies" else KERAS_MLP[case][0]
        edits = [EDITS[case] for case in cases if case in EDITS]

        def edit(notebook: nbformat.NotebookNode, edits: list = edits) -> None:
            for one in edits:
                one(notebook)

        submit(course, "mlp", "keras", student, changes, edit)
    for (assignment, name), submissions in OTHERS.items():
        for student, (changes, _) in submissions.items():
            submit(course, assignment, name, f"{name}_{student}", changes)
    # Two autograde processes at once, half the submissions each (by their student ids' first letters): a kernel's
    # start-up and imports run on one core, so two overlap on two. Each writes the SQLite gradebook only briefly.
    halves = [[("mlp", "--student=[a-o]*"), ("cnn",)], [("mlp", "--student=[p-z]*")]]
    assert sorted(path.name for path in (course / "submitted").iterdir())[0] >= "a", "student ids start with a-z"

    def autograde(calls: list[tuple[str, ...]]) -> None:
        for args in calls:
            nbgrader(course, "autograde", *args)

    with ThreadPoolExecutor(len(halves)) as pool:
        for done in [pool.submit(autograde, half) for half in halves]:
            done.result()
    for assignment in ("mlp", "cnn"):
        nbgrader(course, "generate_feedback", assignment)
    nbgrader(course, "export", "--to", "grades.csv")
    nbgrader(course, "export", "--to", "notebooks.csv", "--exporter", "course_tools.nbgrader_export.NotebooksExport")
    scores, grades, reviews = {}, {}, {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gradebook:
        for assignment in ("mlp", "cnn"):
            for submission in gradebook.assignment_submissions(assignment):
                for notebook in submission.notebooks:
                    key = (assignment, notebook.name, submission.student.id)
                    scores[key] = notebook.score
                    grades[key] = {grade.name: grade.score for grade in notebook.grades}
                    reviews[key] = [
                        c.auto_comment for c in notebook.comments if (c.auto_comment or "").startswith("Marked")
                    ]
    return Graded(course, scores, grades, reviews)


def expected() -> dict[tuple[str, str, str], int]:
    """Points per submission: 3, less what each of its cases costs on its own exercise."""
    points = {
        ("mlp", "keras", student): 3 - sum(3 - KERAS_MLP[case][1] for case in cases)
        for student, cases in keras_mlp_submissions().items()
    }
    for (assignment, name), submissions in OTHERS.items():
        points |= {(assignment, name, f"{name}_{student}"): deserved for student, (_, deserved) in submissions.items()}
    return points


def test_every_submission_gets_the_grade_it_deserves(graded: Graded) -> None:
    got = {key: graded.scores[key] for key in expected()}
    assert got == expected()


def test_the_shared_submissions_cost_each_case_its_own_exercise_only(graded: Graded) -> None:
    """The exercise that no case of a shared submission touches keeps its point: the cases stayed apart."""
    cells = {"raises": WIDER, "kills_kernel": WIDER, "always_equal": WIDER, "replaces_model": SOFTMAX,
             "edits_test": SOFTMAX, "renames_id": MOMENTUM}  # fmt: skip
    for group in SHARED:
        touched = {cells[case] for case in group}
        assert len(touched) == len(group), group
        for answer in {WIDER, SOFTMAX, MOMENTUM} - touched:
            check = answer.removesuffix("-answer") + "-check"
            assert graded.grades[("mlp", "keras", "__".join(group))][check] == 1, (group, check)


def test_failures_are_marked_for_review_with_their_reason_and_wrong_answers_are_not(graded: Graded) -> None:
    for case, reason in REVIEWED.items():
        reasons = " ".join(graded.reviews[("mlp", "keras", student_of(case))])
        assert reason in reasons, (case, reasons)
    for case in ("right", "all_wrong", "replaces_model", "always_equal"):
        assert graded.reviews[("mlp", "keras", student_of(case))] == [], case


def test_the_sandbox_shows_no_reference_gradebook_or_other_submission(graded: Graded) -> None:
    notebook = read(graded.course / "autograded" / "spies" / "mlp" / "keras.ipynb")
    printed = "".join(out.get("text", "") for cell in notebook.cells for out in cell.get("outputs", []))
    assert "SEEN []" in printed, re.findall(r"SEEN .*", printed)


def test_feedback_and_exports_say_what_needs_review(graded: Graded) -> None:
    feedback = (graded.course / "feedback" / student_of("kills_kernel") / "mlp" / "keras.html").read_text()
    assert "Marked for review" in feedback and "kernel died" in feedback
    wrong = (graded.course / "feedback" / "all_wrong" / "mlp" / "keras.html").read_text()
    assert "128 hidden units" in " ".join(wrong.split())  # the judge's own words, from the grader
    for export in ("grades.csv", "notebooks.csv"):
        with open(graded.course / export, newline="") as file:
            rows = [row for row in csv.DictReader(file) if row["assignment"] == "mlp" and row["notebook"] == "keras"]
        by_student = {row["student_id"]: row for row in rows}
        killed = by_student[student_of("kills_kernel")]
        assert killed["needs_review"] == "True" and "kernel died" in killed["reasons"]
        assert by_student["right"]["needs_review"] == "False" and float(by_student["right"]["score"]) == 3
        assert by_student["all_wrong"]["needs_review"] == "False"


def test_the_grader_states_its_pipeline_in_the_course_config(tmp_path: Path) -> None:
    nbgrader_course.build_course(tmp_path, assignments=())
    text = (tmp_path / "nbgrader_config.py").read_text()
    for name in ("SandboxedExecute", "JudgeRecordedAnswers", "MarkTamperedCells", "SaveCourseGrades"):
        assert name in text
    assert grading.REVIEW == "Marked for review"
