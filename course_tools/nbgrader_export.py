"""``nbgrader export`` for a course whose assignments hold one notebook per framework.

A student answers one of the three notebooks of a task; nbgrader scores the two they did not
submit as zero, and its own CSV adds the three. This plugin writes, per student and assignment,
the best notebook's score out of that notebook's points, and names the notebook (the framework).
``course nbgrader`` sets it in ``nbgrader_config.py``; ``nbgrader export --to FILE`` picks the file.
"""

from __future__ import annotations

import csv

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

COLUMNS = ["assignment", "student_id", "notebook", "score", "max_score"]


class BestNotebookExport(ExportPlugin):
    """Per student and assignment: the notebook that scored best, its score and its maximum."""

    def export(self, gradebook: Gradebook) -> None:
        destination = self.to or "grades.csv"
        self.log.info("Exporting each student's best notebook per assignment to %s", destination)
        with open(destination, "w", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(COLUMNS)
            for assignment in gradebook.assignments:
                if self.assignment and assignment.name not in self.assignment:
                    continue
                for student in gradebook.students:
                    if not self.student or student.id in self.student:
                        writer.writerow(best_notebook_row(gradebook, assignment, student.id))


def best_notebook_row(gradebook: Gradebook, assignment: object, student_id: str) -> list:
    """``[assignment, student, notebook, score, max_score]``; an empty notebook when nothing was submitted."""
    try:
        submission = gradebook.find_submission(assignment.name, student_id)
    except MissingEntry:
        most = max((notebook.max_score for notebook in assignment.notebooks), default=0)
        return [assignment.name, student_id, "", 0, most]
    # On a tie (say, two notebooks that score zero), the first in name order: a stable answer.
    best = max(sorted(submission.notebooks, key=lambda notebook: notebook.name), key=lambda notebook: notebook.score)
    return [assignment.name, student_id, best.name, best.score, best.max_score]
