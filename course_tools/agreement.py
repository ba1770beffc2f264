"""Do a task's three notebooks agree? The same settings, each framework's parameter count, close accuracies.

The three frameworks draw their random numbers from different generators, so their accuracies are
never equal; each task's tolerance (``tasks.Task.agreement_tolerance``) sits above the spread that
healthy models show across seeds, and below the gap that one broken framework opens.
docs/agreement.md has the seed sweeps behind it.
"""

from __future__ import annotations

from course_utils.tasks import FRAMEWORKS, TASKS

SHARED_SETTINGS = ("epochs", "n_train", "n_test", "data_source", "batch_size", "learning_rate")


def disagreements(records: dict[str, dict], task: str) -> list[str]:
    """What keeps one task's records (one per framework) from agreeing; empty if they agree."""
    problems = []
    for framework, record in records.items():
        expected = TASKS[task].params[framework]
        if record["params"] != expected:
            problems.append(f"{framework} has {record['params']:,} parameters, its reference is {expected:,}")
    for key in SHARED_SETTINGS:
        values = {framework: record.get(key) for framework, record in records.items()}
        if len(set(map(repr, values.values()))) > 1:
            problems.append(f"{key} differs: {values}")
    accuracies = {framework: record["test_accuracy"] for framework, record in records.items()}
    spread = max(accuracies.values()) - min(accuracies.values())
    tolerance = TASKS[task].tolerance(min(record["n_train"] for record in records.values()))
    if spread > tolerance:
        problems.append(f"test accuracies differ by {spread:.4f} > {tolerance}: {accuracies}")
    return problems


def check_runs(records: list[dict]) -> dict[str, list[str]]:
    """For each task with a record in every framework, its disagreements (the newest record of each counts)."""
    newest: dict[str, dict[str, dict]] = {}
    for record in records:  # oldest first, so newer records replace older ones
        newest.setdefault(record["task"], {})[record["framework"]] = record
    return {
        task: disagreements(by_framework, task)
        for task, by_framework in newest.items()
        if task in TASKS and set(by_framework) == set(FRAMEWORKS)
    }
