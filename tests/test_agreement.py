"""The paired notebooks of each task agree with each other, across the three frameworks.

Each task's three notebooks must exist, train models with the task's reference parameter
counts on the same data and hyperparameters, and reach test accuracies within
``ACCURACY_TOLERANCE`` of each other. The records come from the nbval run earlier in the
same session (the root conftest points every kernel at one results folder); a notebook
with no record yet is run here.

How the tolerance was chosen is in docs/agreement.md: each notebook was run in fast mode
under several seeds (``COURSE_SEED``), and the tolerance sits above the largest healthy
spread seen between frameworks, and below the spread that a broken model in one
framework produces.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from course_utils import notebooks, results
from course_utils.tasks import FRAMEWORKS, TASKS

# Largest allowed gap between the best and worst framework's fast-mode test accuracy.
ACCURACY_TOLERANCE = {"mlp": 0.04, "cnn": 0.05, "rnn": 0.10}
SHARED_SETTINGS = ("epochs", "n_train", "n_test", "data_source", "batch_size", "learning_rate")
TASK_FOLDERS = {folder.name.split("_", 1)[1]: folder for folder in notebooks.task_folders()}


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
    if spread > ACCURACY_TOLERANCE[task]:
        problems.append(f"test accuracies differ by {spread:.3f} > {ACCURACY_TOLERANCE[task]}: {accuracies}")
    return problems


def records_for(task: str) -> dict[str, dict]:
    """The newest fast-mode record of each framework for ``task``, running notebooks that have none."""
    folder = Path(os.environ["COURSE_RESULTS_DIR"])
    table = results.load_results(folder)
    found = {}
    for framework in FRAMEWORKS:
        rows = table[(table.task == task) & (table.framework == framework)]
        if rows.empty:
            path = TASK_FOLDERS[task] / f"{framework}.ipynb"
            outcome = notebooks.run_notebook(path, env={"COURSE_FAST": "1", "COURSE_RESULTS_DIR": str(folder)})
            assert outcome.ok, f"{path} failed: {outcome.error}"
            table = results.load_results(folder)
            rows = table[(table.task == task) & (table.framework == framework)]
        found[framework] = rows.iloc[-1].to_dict()
    return found


@pytest.mark.parametrize("task", list(TASKS))
def test_every_task_has_all_three_frameworks(task: str) -> None:
    assert task in TASK_FOLDERS, f"no notebooks/NN_{task}/ folder"
    missing = [f for f in FRAMEWORKS if not (TASK_FOLDERS[task] / f"{f}.ipynb").is_file()]
    assert not missing, f"{TASK_FOLDERS[task]} lacks {missing}: a paired task needs {list(FRAMEWORKS)}"


@pytest.mark.after_notebooks
@pytest.mark.parametrize("task", list(TASKS))
def test_frameworks_agree(task: str) -> None:
    if task not in TASK_FOLDERS:
        pytest.fail(f"no notebooks/NN_{task}/ folder")
    problems = disagreements(records_for(task), task)
    assert not problems, f"the {task} notebooks disagree:\n  " + "\n  ".join(problems)


def healthy_records(task: str, accuracies: dict[str, float]) -> dict[str, dict]:
    return {
        framework: {"params": TASKS[task].params[framework], "test_accuracy": accuracy, "epochs": 5,
                    "n_train": 4000, "n_test": 1000, "data_source": "sample", "batch_size": 128,
                    "learning_rate": 0.001}
        for framework, accuracy in accuracies.items()
    }


def test_agreement_accepts_a_healthy_spread() -> None:
    records = healthy_records("mlp", {"keras": 0.92, "tensorflow": 0.93, "pytorch": 0.915})
    assert disagreements(records, "mlp") == []


@pytest.mark.parametrize("task", list(TASKS))
def test_agreement_catches_one_broken_framework(task: str) -> None:
    # A model that learned nothing in one framework, next to two healthy ones.
    records = healthy_records(task, {"keras": 0.92, "tensorflow": 0.11, "pytorch": 0.93})
    assert any("accuracies differ" in problem for problem in disagreements(records, task))


def test_agreement_catches_a_miswired_model_and_other_settings() -> None:
    records = healthy_records("rnn", {"keras": 0.9, "tensorflow": 0.9, "pytorch": 0.9})
    records["pytorch"]["params"] = TASKS["rnn"].params["keras"]  # one bias vector short of nn.LSTM's
    records["tensorflow"]["epochs"] = 3
    problems = disagreements(records, "rnn")
    assert any("pytorch has 24,458 parameters" in problem for problem in problems)
    assert any(problem.startswith("epochs differs") for problem in problems)
