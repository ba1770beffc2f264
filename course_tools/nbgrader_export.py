"""``nbgrader export`` for a course whose assignments hold one notebook per framework.

A student answers one of the three notebooks of a task; nbgrader scores the two they did not
submit as zero, and its own CSV adds the three. :class:`BestNotebookExport` writes, per student and
assignment, the best notebook's score out of that notebook's points, and names the notebook (the
framework); :class:`NotebooksExport` writes a row per submitted notebook. Both say which scores need
review: a grade that a failure rather than a wrong answer cost (an error, a dead kernel, a time limit,
an edited cell; course_tools/grading.py), with the reasons, which nbgrader's own CSV leaves out.
``course nbgrader`` sets the first in ``nbgrader_config.py``; ``nbgrader export --to FILE`` picks the file,
``--exporter course_tools.nbgrader_export.NotebooksExport`` the other.
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from .grading import REVIEW

COLUMNS = ["assignment", "student_id", "notebook", "score", "max_score", "needs_review", "reasons"]


def review(notebook: object) -> tuple[bool, str]:
    """Whether a submitted notebook has a grade to review, and the reasons the grader gave."""
    reasons = [
        comment.auto_comment
        for comment in notebook.comments  # type: ignore[attr-defined]
        if comment.auto_comment and comment.auto_comment.startswith(REVIEW)
    ]
    return bool(notebook.needs_manual_grade or reasons), " | ".join(reasons)  # type: ignore[attr-defined]


class _Export(ExportPlugin):
    def rows(self, gradebook: Gradebook, assignment: object, student_id: str) -> list[list]:
        raise NotImplementedError

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting %s to %s", type(self).__name__, destination)
        with open(destination, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(COLUMNS)
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if not self.student or student.id in self.student:
                        writer.writerows(self.rows(gradebook, assignment, student.id))


class BestNotebookExport(_Export):
    """Per student and assignment: the notebook that scored best, its score and its maximum."""

    def rows(self, gradebook: Gradebook, assignment: object, student_id: str) -> list[list]:
        return [best_notebook_row(gradebook, assignment, student_id)]


class NotebooksExport(_Export):
    """Per student and assignment: a row for each notebook (nbgrader scores one not submitted as zero)."""

    def rows(self, gradebook: Gradebook, assignment: object, student_id: str) -> list[list]:
        try:
            submission = gradebook.find_submission(assignment.name, student_id)  # type: ignore[attr-defined]
        except MissingEntry:
            return []
        return [
            [assignment.name, student_id, notebook.name, notebook.score, notebook.max_score, *review(notebook)]
            for notebook in sorted(submission.notebooks, key=lambda notebook: notebook.name)
        ]


def best_notebook_row(gradebook: Gradebook, assignment: object, student_id: str) -> list:
    """``COLUMNS`` for one student and assignment; an empty notebook when nothing was submitted."""
    try:
        submission = gradebook.find_submission(assignment.name, student_id)  # type: ignore[attr-defined]
    except MissingEntry:
        most = max((notebook.max_score for notebook in assignment.notebooks), default=0)  # type: ignore[attr-defined]
        return [assignment.name, student_id, "", 0, most, False, ""]  # type: ignore[attr-defined]
    # On a tie (say, two notebooks that score zero), the first in name order: a stable answer.
    best = max(sorted(submission.notebooks, key=lambda notebook: notebook.name), key=lambda notebook: notebook.score)
    return [assignment.name, student_id, best.name, best.score, best.max_score, *review(best)]  # type: ignore[attr-defined]
