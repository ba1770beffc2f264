"""Finding, cleaning and running notebooks; every committed notebook is clean, and a broken model fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from course_utils import cells

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from course_tools import notebooks

MLP_PYTORCH = notebooks.config.NOTEBOOKS_DIR / "01_mlp" / "pytorch.ipynb"


def code_cell(source: str, *outputs: nbformat.NotebookNode, count: int | None = 3, **metadata: object):
    cell = new_code_cell(source, execution_count=count, outputs=list(outputs), metadata=metadata)
    cell.metadata["execution"] = {"iopub.status.busy": "2026-01-01T00:00:00"}
    return cell


def stdout(text: str) -> nbformat.NotebookNode:
    return new_output("stream", name="stdout", text=text)


def executed_notebook() -> nbformat.NotebookNode:
    """A notebook as Jupyter saves it after a run: outputs, counts, timings and widget state."""
    notebook = new_notebook(
        cells=[
            new_markdown_cell("## Data"),
            code_cell(
                "x = load()\nx",
                stdout("loading\n"),
                new_output("execute_result", data={"text/plain": "42"}, execution_count=3),
                count=3,
            ),
            code_cell(
                "print(len(x))",
                stdout("4,000 training images\n"),
                new_output("stream", name="stderr", text="a warning\n"),
                new_output("display_data", data={"text/plain": "<Figure>"}),
                count=7,
                tags=["evaluate", "nbval-check-output"],
            ),
            code_cell("plot(x)", new_output("display_data", data={"image/png": "iVBORw0KGgo="}), count=8),
            code_cell("check()", stdout("✓ passed\n"), count=9, tags=["nbval-check-output"]),
        ]
    )
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    return notebook


def test_clean_strips_outputs_but_keeps_checked_stdout() -> None:
    cleaned = notebooks.clean(executed_notebook())
    assert "widgets" not in cleaned.metadata
    markdown, loading, checked, plot, check = cleaned.cells
    assert markdown.source == "## Data"
    for cell in (loading, plot):
        assert (cell.outputs, cell.execution_count) == ([], None)
    assert [output.text for output in checked.outputs] == ["4,000 training images\n"]
    assert [output.text for output in check.outputs] == ["✓ passed\n"]
    assert (checked.execution_count, check.execution_count) == (1, 2), "checked cells are numbered 1, 2, ..."
    assert checked.metadata == {"tags": ["evaluate", "nbval-check-output"]}, "tags stay, timings go"
    assert all("execution" not in cell.metadata for cell in cleaned.cells)


def test_is_clean_tells_an_executed_notebook_from_a_clean_one() -> None:
    assert not notebooks.is_clean(executed_notebook())
    cleaned = notebooks.clean(executed_notebook())
    assert notebooks.is_clean(cleaned)
    assert notebooks.clean(nbformat.from_dict(cleaned)) == cleaned, "cleaning twice changes nothing"


@pytest.mark.parametrize(
    "path", notebooks.course_notebooks(), ids=lambda path: str(path.relative_to(notebooks.config.NOTEBOOKS_DIR))
)
def test_committed_notebook_is_clean(path: Path) -> None:
    clean = notebooks.is_clean(nbformat.read(path, as_version=4))
    assert clean, f"{path} holds outputs or counts: run `course clean --record {path}` before committing it"


def test_course_notebooks_and_task_folders(tmp_path: Path) -> None:
    for name in (
        "01_mlp/keras.ipynb",
        "01_mlp/.ipynb_checkpoints/keras-checkpoint.ipynb",
        "00_intro.ipynb",
        "90_extras/tour.ipynb",
        "02_cnn/pytorch.ipynb",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(new_notebook(), tmp_path / name)
    found = [path.relative_to(tmp_path).as_posix() for path in notebooks.course_notebooks(tmp_path)]
    assert found == ["00_intro.ipynb", "01_mlp/keras.ipynb", "02_cnn/pytorch.ipynb", "90_extras/tour.ipynb"]
    assert [folder.name for folder in notebooks.task_folders(tmp_path)] == ["01_mlp", "02_cnn"]


def test_tagged_source_joins_the_tagged_cells(tmp_path: Path) -> None:
    path = tmp_path / "tagged.ipynb"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("model = A()", metadata={"tags": ["define-model"]}),
                new_code_cell("other()"),
                new_code_cell("model.add(B())", metadata={"tags": ["define-model", "extra"]}),
            ]
        ),
        path,
    )
    assert cells.tagged_code(path, "define-model") == "model = A()\n\nmodel.add(B())"
    assert cells.tagged_code(path, "train-step") == ""


def test_run_notebook_runs_in_the_notebooks_folder_and_names_the_failing_cell(tmp_path: Path) -> None:
    (tmp_path / "beside.txt").write_text("found beside the notebook")
    path, executed = tmp_path / "failing.ipynb", tmp_path / "executed.ipynb"
    nbformat.write(
        new_notebook(
            cells=[
                new_code_cell("import os\nprint(open('beside.txt').read(), os.environ['COURSE_TEST_MARK'])"),
                new_code_cell("ratio = 1 / 0"),
                new_code_cell("print('never runs')"),
            ]
        ),
        path,
    )
    outcome = notebooks.run_notebook(path, env={"COURSE_TEST_MARK": "marked"}, save_to=executed)
    assert not outcome.ok
    assert outcome.error == "code cell 2 ('ratio = 1 / 0'): ZeroDivisionError: division by zero"
    first, _, last = nbformat.read(executed, as_version=4).cells
    assert first.outputs[0].text == "found beside the notebook marked\n"
    assert last.outputs == []
    assert "COURSE_TEST_MARK" not in os.environ, "the kernel's variables must not leak into this process"
    assert outcome.peak_memory_mb > 20, "an IPython kernel alone holds tens of MB"


def test_a_notebook_that_cannot_be_read_is_a_failed_outcome(tmp_path: Path) -> None:
    (tmp_path / "broken.ipynb").write_text("{ not json")
    for path in (tmp_path / "missing.ipynb", tmp_path / "broken.ipynb"):
        outcome = notebooks.run_notebook(path)
        assert not outcome.ok and outcome.error.startswith("cannot read the notebook"), outcome.error


def test_memory_sampler_adds_up_a_process_and_its_children_while_they_run() -> None:
    # A child holding 300 MB starts a grandchild holding 200 MB, and both hold it for a second
    # once the grandchild says it is ready: Binder counts both.
    grandchild = "import time; block = b'x' * (200 * 2**20); print('ready', flush=True); time.sleep(1)"
    child = (
        "import subprocess, sys, time; block = b'x' * (300 * 2**20); "
        f"grandchild = subprocess.Popen([sys.executable, '-c', {grandchild!r}], stdout=subprocess.PIPE, "
        "text=True); "
        "grandchild.stdout.readline(); time.sleep(0.8); grandchild.wait()"
    )
    with notebooks.ChildMemorySampler(interval=0.05) as memory:
        subprocess.run([sys.executable, "-c", child], check=True)
    assert 500 <= memory.peak_mb < 700, memory.peak_mb


def test_a_model_that_does_not_learn_fails_its_notebook(tmp_path: Path) -> None:
    broken = tmp_path / MLP_PYTORCH.name
    shutil.copy(MLP_PYTORCH, broken)
    notebook = nbformat.read(broken, as_version=4)
    settings = [cell for cell in notebook.cells if "LEARNING_RATE = 1e-3" in cell.source]
    assert len(settings) == 1, "the notebook's hyperparameter cell has changed; update this test"
    settings[0].source = settings[0].source.replace("LEARNING_RATE = 1e-3", "LEARNING_RATE = 0.0")
    nbformat.write(notebook, broken)

    results = tmp_path / "results"
    outcome = notebooks.run_notebook(broken, env={"COURSE_FAST": "1", "COURSE_RESULTS_DIR": str(results)})
    assert not outcome.ok
    assert "CheckFailed" in outcome.error and "check_results" in outcome.error, outcome.error
    assert not results.exists() or not any(results.iterdir()), "a failed run must record no result"
