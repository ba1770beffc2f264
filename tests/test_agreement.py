"""The paired notebooks of each task agree with each other, across the three frameworks.

Each task's three notebooks must exist, train models with the task's reference parameter
counts on the same data and hyperparameters, and reach test accuracies within the task's
fast-mode tolerance (``tasks.Task.agreement_tolerance``) of each other. The records come from
the nbval run earlier in the same session (the root conftest points every kernel at one
results folder); a notebook with no record yet is run here. ``course run`` applies the same
check at full size, with the tighter full-size tolerance.

How the tolerance was chosen is in docs/agreement.md: each notebook was run in fast mode
under several seeds (``COURSE_SEED``), and the tolerance sits above the largest healthy
spread seen between frameworks, and below the spread that a broken model in one
framework produces.
"""

from __future__ import annotations

import os
from pathlib import Path

from course_utils.tasks import FRAMEWORKS, TASKS

import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from course_lab import records
from course_tools import answers, notebooks
from course_tools.agreement import check_runs, disagreements

TASK_FOLDERS = {folder.name.split("_", 1)[1]: folder for folder in notebooks.task_folders()}


def run_as_nbval_does(path: Path) -> None:
    """Execute ``path`` with the suite's setting: answered (as conftest answers nbval's cells), fast, strict.

    The kernel inherits this process's environment, which conftest sets: ``COURSE_FAST``, the
    suite's results folder and ``COURSE_EXERCISES=strict``.
    """
    notebook = answers.answered_notebook(path)
    client = NotebookClient(
        notebook, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    try:
        client.execute()
    except CellExecutionError as failure:
        pytest.fail(f"{path} failed: {str(failure)[-2000:]}")


def records_for(task: str) -> dict[str, dict]:
    """The newest fast-mode record of each framework for ``task``, running notebooks that have none."""
    folder = Path(os.environ["COURSE_RESULTS_DIR"])
    table = records.load_results(folder)
    found = {}
    for framework in FRAMEWORKS:
        rows = table[(table.task == task) & (table.framework == framework)]
        if rows.empty:
            run_as_nbval_does(TASK_FOLDERS[task] / f"{framework}.ipynb")
            table = records.load_results(folder)
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


def healthy_records(task: str, accuracies: dict[str, float], n_train: int = 4000) -> dict[str, dict]:
    return {
        framework: {
            "task": task,
            "framework": framework,
            "params": TASKS[task].params[framework],
            "test_accuracy": accuracy,
            "epochs": 5,
            "n_train": n_train,
            "n_test": 1000,
            "data_source": "sample" if n_train < 10_000 else "mnist",
            "batch_size": 128,
            "learning_rate": 0.001,
        }
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


def test_full_size_agreement_is_tighter_than_fast_mode() -> None:
    # A gap of 0.02 is healthy noise on 1,000 fast-mode test images, but a wiring mistake at full size.
    accuracies = {"keras": 0.990, "tensorflow": 0.970, "pytorch": 0.989}
    assert disagreements(healthy_records("cnn", accuracies), "cnn") == []
    problems = disagreements(healthy_records("cnn", accuracies, n_train=60_000), "cnn")
    assert problems and "differ by 0.0200" in problems[0]
    close = {"keras": 0.9912, "tensorflow": 0.9921, "pytorch": 0.9917}
    assert disagreements(healthy_records("cnn", close, n_train=60_000), "cnn") == []


def test_check_runs_judges_only_complete_tasks_by_their_newest_records() -> None:
    older = healthy_records("mlp", {"keras": 0.10, "tensorflow": 0.978, "pytorch": 0.979}, n_train=60_000)
    newer = healthy_records("mlp", {"keras": 0.977}, n_train=60_000)
    partial = healthy_records("rnn", {"keras": 0.10}, n_train=60_000)
    verdicts = check_runs([*older.values(), *newer.values(), *partial.values()])
    assert verdicts == {"mlp": []}, "the newer Keras record replaces the broken one; the RNN lacks two frameworks"
