"""Grades judged where a student's code cannot reach: nbgrader's autograde, with the course's preprocessors.

A student's kernel is the student's: the check functions, NumPy and the model object there can all
be replaced by code in an answer cell, so no grade is taken from what the kernel says. Instead:

1. :class:`MarkTamperedCells` (before nbgrader's ``OverwriteCells``) notes every read-only cell
   whose source was changed and drops nbgrader's metadata from cells whose grade id nbgrader does
   not know (a renamed id used to crash autograde); ``OverwriteCells`` then restores the sources
   and, with ``add_missing_cells``, puts removed graded cells back.
2. :class:`SandboxedExecute` runs the notebook in a bubblewrap sandbox (``course_tools/sandbox.py``)
   with a time limit per cell and per notebook. A dead kernel or a cell that runs over its time costs
   that cell: the kernel is started again, the read-only cells before it run again, and grading goes
   on with the next cell.
3. Graded cells record plain values in their output as they run (``exercises.require``, and
   ``exercises.record`` in the read-only cell that makes an exercise's inputs). :class:`JudgeRecordedAnswers`
   reads them from the executed notebook, in the grader's process, and judges them with the
   references (``course_judges``), which the sandbox cannot see. It replaces each graded cell's outputs
   with that verdict, so that nbgrader's own scoring (an error output scores zero) and its feedback
   show the grader's judgement, not the kernel's.
4. :class:`SaveCourseGrades` is nbgrader's ``SaveAutoGrades``, then marks every grade that a failure
   rather than a wrong answer cost (an error, a dead kernel, a time limit, an edited cell) as needing
   review, with the reason as the answer cell's comment; the course's export shows both.

``course nbgrader`` writes the configuration that puts these in nbgrader's pipeline
(:data:`course_tools.nbgrader_course.GRADING_CONFIG`).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

from course_utils.exercises import EXERCISES, RECORD_MIME
from course_utils.tasks import FRAMEWORKS

from nbclient.exceptions import DeadKernelError
from nbformat.notebooknode import NotebookNode, from_dict
from nbgrader import utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import Execute, NbGraderPreprocessor, SaveAutoGrades
from traitlets import Bool, Integer

from .answers import exercise_id
from .nbgrader_course import slug
from .sandbox import SandboxedKernelManager

REVIEW = "Marked for review"  # starts every reason that a failure cost points; the export looks for it
NOT_ANSWERED = "not answered"
TIMEOUT_ENAME = "CellTimeoutError"  # nbgrader's error_on_timeout names it so


def _error(ename: str, evalue: str) -> NotebookNode:
    return from_dict({"output_type": "error", "ename": ename, "evalue": evalue, "traceback": [f"{ename}: {evalue}"]})


def _stdout(text: str) -> NotebookNode:
    return from_dict({"output_type": "stream", "name": "stdout", "text": text})


class MarkTamperedCells(NbGraderPreprocessor):
    """Before ``OverwriteCells``: note read-only cells whose source changed; forget grade ids nbgrader lacks."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        info = resources["nbgrader"]
        tampered = []
        with Gradebook(info["db_url"]) as gradebook:
            for cell in nb.cells:
                grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
                if grade_id is None:
                    continue
                try:
                    source = gradebook.find_source_cell(grade_id, info["notebook"], info["assignment"])
                except MissingEntry:
                    # A renamed or invented grade id: the cell is the student's own code now, graded nowhere;
                    # the cell it replaced counts as missing, and OverwriteCells adds it back.
                    del cell.metadata["nbgrader"]
                    continue
                if source.locked and utils.compute_checksum(cell) != source.checksum:
                    tampered.append(grade_id)
        nb.metadata["course_tampered"] = tampered  # written afresh: a submission's own value is dropped
        return nb, resources


class SandboxedExecute(Execute):
    """nbgrader's Execute in a sandbox, where a failure costs the cell it happens in, not the notebook."""

    sandbox = Bool(True, help="Run each submission's kernel in bubblewrap (course_tools/sandbox.py).").tag(config=True)
    notebook_timeout = Integer(1800, help="Seconds for the whole notebook; cells after it are not run.").tag(
        config=True
    )
    # An exercise's answer is a few lines (a count, a softmax, two optimizer steps): it needs far less
    # than the training cells, and a loop there should not hold up the whole class's grading.
    answer_timeout = Integer(120, help="Seconds for an answer cell (the `timeout` is for the others).").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict | None = None, km=None) -> tuple[NotebookNode, dict]:
        self.nb, self.resources = nb, resources
        cell_timeout = self.timeout
        deadline = time.monotonic() + self.notebook_timeout
        failures: dict[int, str] = {}
        start: int | None = 0
        while start is not None:
            start = self._run_from(start, failures, deadline, cell_timeout)
        self.timeout = cell_timeout
        (resources if resources is not None else {}).setdefault("course", {})["failures"] = failures
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _run_from(self, start: int, failures: dict[int, str], deadline: float, cell_timeout: int) -> int | None:
        """Run the cells from ``start`` in a new kernel; the index to go on from after a failure, or None."""
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, self.nb, None)  # a fresh kernel manager and client, as nbconvert does
        if self.sandbox:
            self.kernel_manager_class = SandboxedKernelManager
        self.reset_execution_trackers()
        self._check_assign_resources(self.resources)
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index in range(start):  # the read-only cells before, again: the answers' state is lost
                cell = self.nb.cells[index]
                if cell.cell_type == "code" and utils.is_locked(cell) and index not in failures:
                    replay = copy.deepcopy(cell)
                    self.execute_cell(replay, index, store_history=False)
                    self.nb.cells[index] = cell  # keep the first run's outputs
            for index in range(start, len(self.nb.cells)):
                cell = self.nb.cells[index]
                if cell.cell_type != "code":
                    continue
                left = deadline - time.monotonic()
                if left <= 1:
                    spent = f"not run: the notebook's time limit of {self.notebook_timeout} s was spent"
                    for later in range(index, len(self.nb.cells)):
                        if self.nb.cells[later].cell_type == "code":
                            failures[later] = spent
                            self.nb.cells[later].outputs = [_error("NotRun", spent)]
                    return None
                limit = self.answer_timeout if utils.is_solution(cell) else cell_timeout
                self.timeout = int(min(limit, left))
                try:
                    self.preprocess_cell(cell, self.resources, index)
                except DeadKernelError:
                    why = getattr(self.km, "killed_because", None) or "the kernel died while this cell ran"
                    failures[index] = why
                    cell.outputs.append(_error("DeadKernelError", why))
                    return index + 1
                if any(out.output_type == "error" and out.get("ename") == TIMEOUT_ENAME for out in cell.outputs):
                    failures[index] = f"the cell ran over its time limit of {self.timeout} s and was stopped"
                    return index + 1  # the kernel may be stuck in a loop that ignores the interrupt: start again
        return None


@dataclass
class Judgement:
    """One exercise's outcome: right or not, what to tell the student, and a reason to review, if any."""

    right: bool
    message: str
    review: str | None = None


class JudgeRecordedAnswers(NbGraderPreprocessor):
    """After execution: judge each exercise's recorded answer in this process, and show that as the cell's output."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        import course_judges  # the instructor's side: importable here, masked in the sandbox

        self.references = course_judges
        stem = str(resources.get("nbgrader", {}).get("notebook", ""))
        self.framework = stem if stem in FRAMEWORKS else None
        self.failures = resources.get("course", {}).get("failures", {})
        self.tampered = set(nb.metadata.pop("course_tampered", []))
        self.cells = {
            cell.metadata["nbgrader"]["grade_id"]: (index, cell)
            for index, cell in enumerate(nb.cells)
            if "grade_id" in cell.metadata.get("nbgrader", {})
        }
        reviews = resources.setdefault("course", {}).setdefault("reviews", {})
        for index, cell in enumerate(nb.cells):
            if not (utils.is_grade(cell) and not utils.is_solution(cell) and cell.cell_type == "code"):
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            found = exercise_id(cell.source)
            judgement = self.judge(found, grade_id, index, cell) if found in EXERCISES else None
            if judgement is None:
                continue  # a graded cell that is not an exercise's: nbgrader scores it as usual
            title = EXERCISES[found].title
            if judgement.right:
                cell.outputs = [_stdout(f"✓ {title}: {judgement.message}\n")]
            else:
                ename = "NeedsReview" if judgement.review else "WrongAnswer"
                cell.outputs = [_error(ename, f"✗ {title}: {judgement.message}")]
            if judgement.review:
                reviews[grade_id] = f"{REVIEW}: {judgement.review}"
        return nb, resources

    def judge(self, exercise: str, grade_id: str, index: int, cell: NotebookNode) -> Judgement:
        name = slug(exercise)
        answer_index, answer_cell = self.cells.get(f"{name}-answer", (None, None))
        given_index, given_cell = self.cells.get(f"{name}-given", (None, None))
        if self.tampered & {grade_id, f"{name}-given"}:
            return self._failed("its read-only cells were edited (nbgrader put them back); 0 for this exercise")
        if "was missing from the submission" in cell.source:
            return self._failed("its graded cell was missing from the submission (removed, or its grade id renamed)")
        for failed in (answer_index, given_index, index):
            if failed in self.failures:
                return self._failed(f"cell {failed + 1}: {self.failures[failed]}")
        answers = self._records(cell, exercise, "answer")
        if len(answers) != 1:
            if not answers:
                return self._no_answer(answer_cell)
            return self._failed("the answer was recorded more than once: code in the notebook changed the check")
        answer = answers[0].get("answer")
        if answer == {"unreadable": "ellipsis"}:
            return Judgement(False, f"{NOT_ANSWERED}: the ... is still there.")
        given: dict[str, object] = {}
        needs = EXERCISES[exercise].given
        if "framework" in needs:  # the notebook graded says which framework, not the kernel
            given["framework"] = self.framework
        recorded = [name for name in needs if name != "framework"]
        if recorded:
            records = self._records(given_cell, exercise, "given") if given_cell is not None else []
            if len(records) != 1:
                return self._failed("the inputs of this exercise were not recorded once by their read-only cell")
            given |= {name: records[0].get(name) for name in recorded}
            implausible = self.references.implausible_given(exercise, given)
            if implausible:
                return self._failed(implausible)
        problem = self.references.verdict(exercise, answer, given)
        if problem is None:
            return Judgement(True, self.references.praise(exercise))
        return Judgement(False, problem)

    @staticmethod
    def _records(cell: NotebookNode, exercise: str, kind: str) -> list[dict]:
        found = []
        for output in cell.get("outputs", []):
            record = output.get("data", {}).get(RECORD_MIME)
            if isinstance(record, dict) and record.get("exercise") == exercise and record.get("kind") == kind:
                found.append(record.get("values", {}))
        return found

    def _no_answer(self, answer_cell: NotebookNode | None) -> Judgement:
        errors = [out for out in (answer_cell or {}).get("outputs", []) if out.output_type == "error"]
        if answer_cell is not None and utils.compute_checksum(answer_cell) == answer_cell.metadata.nbgrader.get(
            "checksum"
        ):
            return Judgement(False, f"{NOT_ANSWERED}: the answer cell is as it was released.")
        if errors:
            error = errors[-1]
            return self._failed(f"the answer cell raised {error.ename}: {str(error.evalue)[:200]}")
        return self._failed("no answer was recorded: the check did not run to the end")

    @staticmethod
    def _failed(reason: str) -> Judgement:
        return Judgement(False, f"{REVIEW}: {reason}.", review=reason)


class SaveCourseGrades(SaveAutoGrades):
    """nbgrader's scores, then: each grade that a failure cost needs review, with its reason as a comment."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        nb, resources = super().preprocess(nb, resources)
        reviews = resources.get("course", {}).get("reviews", {})
        if not reviews:
            return nb, resources
        with Gradebook(self.db_url) as gradebook:
            for grade_id, reason in reviews.items():
                grade = gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
                grade.needs_manual_grade = True
                answer_id = grade_id.removesuffix("-check") + "-answer"
                try:
                    comment = gradebook.find_comment(answer_id, self.notebook_id, self.assignment_id, self.student_id)
                except MissingEntry:
                    continue
                comment.auto_comment = reason
            gradebook.db.commit()
        return nb, resources
