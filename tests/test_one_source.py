"""One definition of each model and training step: the notebooks' cells, which the claims experiments run."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import course_utils
from course_utils import cells, config
from course_utils.tasks import FRAMEWORKS, TASKS

import nbformat
import pytest

import course_lab.claims
from course_lab.claims import common, debugging
from course_tools import notebooks

CLAIMS = Path(course_lab.claims.__file__).parent
PACKAGES = [CLAIMS.parent / name for name in ("course_utils", "course_tools", "course_lab.claims")]
# What building a model or an optimizer looks like in each framework: none of it may live outside the notebooks.
# Read from the code's syntax, so that prose (a docstring naming keras.Sequential) is not mistaken for code.
MODEL_BASES = {"nn.Module", "tf.Module", "keras.Model"}
MODEL_CALLS = {
    "keras.Sequential",
    "nn.Conv2d",
    "layers.Conv2D",
    "tf.nn.conv2d",
    "torch.optim.Adam",
    "keras.optimizers.Adam",
}
MODEL_DEFINITIONS = {"Adam", "glorot_uniform"}


def model_code(source: str) -> list[tuple[int, str]]:
    """The lines of ``source`` that define a model or an optimizer, or build one, and what is there."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef) and (
            node.name in MODEL_DEFINITIONS or {ast.unparse(base) for base in node.bases} & MODEL_BASES
        ):
            found.append((node.lineno, f"class {node.name}"))
        elif isinstance(node, ast.FunctionDef) and node.name in MODEL_DEFINITIONS:
            found.append((node.lineno, f"def {node.name}"))
        elif isinstance(node, ast.Call) and ast.unparse(node.func) in MODEL_CALLS:
            found.append((node.lineno, f"{ast.unparse(node.func)}(...)"))
    return sorted(found)


def test_model_code_is_found_in_code_and_not_in_prose() -> None:
    source = (
        '"""A traceback that points to ``keras.Sequential(``, or class Adam, in prose."""\n'
        "# model = keras.Sequential([...])\n"
        "class Net(nn.Module):\n"
        "    pass\n"
        "def build():\n"
        "    return keras.Sequential([layers.Conv2D(32, 3)]), torch.optim.Adam(params)\n"
        "class Adam:\n"
        "    pass\n"
    )
    assert model_code(source) == [
        (3, "class Net"),
        (6, "keras.Sequential(...)"),
        (6, "layers.Conv2D(...)"),
        (6, "torch.optim.Adam(...)"),
        (7, "class Adam"),
    ]


def test_no_package_defines_a_model_or_an_optimizer() -> None:
    found = [
        f"{path.relative_to(CLAIMS.parent)}:{number}: {what}"
        for package in PACKAGES
        for path in package.rglob("*.py")
        for number, what in model_code(path.read_text(encoding="utf-8"))
    ]
    assert not found, "model code belongs in the notebooks' tagged cells, not in the packages:\n" + "\n".join(found)


# Run in a fresh interpreter, as a claims worker is: imports each worker and builds its model from the notebook given.
BUILD_IN_EACH_WORKER = """
import importlib, json, sys
from course_lab.claims import common
found = {}
for framework, copy in json.loads(sys.argv[1]).items():
    common.CNN_NOTEBOOKS[framework] = copy
    names = importlib.import_module(f"course_lab.claims.{framework}_cnn")._notebook()
    model = names["model"]
    if framework == "keras":
        params = model.count_params()
    elif framework == "pytorch":
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        params = sum(int(v.shape.num_elements()) for v in model.trainable_variables)
    found[framework] = {"params": params, "DROPOUT": names["DROPOUT"], "train_step": "train_step" in names}
print(json.dumps(found))
"""


def test_the_claims_workers_build_the_cnn_notebooks_model_and_step(tmp_path: Path) -> None:
    """Each worker runs the CNN notebook's cells: an edit to the notebook shows in what the worker builds."""
    copies = {}
    for framework in FRAMEWORKS:
        notebook = nbformat.read(config.NOTEBOOKS_DIR / common.CNN_NOTEBOOKS[framework], as_version=4)
        [cell] = [cell for cell in notebook.cells if "hyperparameters" in cell.metadata.get("tags", [])]
        assert cell.source.count("DROPOUT = 0.5") == 1
        cell.source = cell.source.replace("DROPOUT = 0.5", "DROPOUT = 0.25")
        copies[framework] = str(tmp_path / f"{framework}.ipynb")
        nbformat.write(notebook, copies[framework])
    done = subprocess.run(
        [sys.executable, "-c", BUILD_IN_EACH_WORKER, json.dumps(copies)], capture_output=True, text=True, check=True
    )
    found = json.loads(done.stdout.splitlines()[-1])
    for framework in FRAMEWORKS:
        assert found[framework]["DROPOUT"] == 0.25, f"{framework}_cnn.py did not run the notebook's cells"
        assert found[framework]["params"] == TASKS["cnn"].params[framework], f"{framework}: not the course's CNN"
        # Keras trains with fit(); the other two notebooks write their training step out.
        assert found[framework]["train_step"] == (framework != "keras"), framework


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_planted_shape_bug_changes_exactly_one_place_of_the_notebook(framework: str) -> None:
    tree = ast.parse((CLAIMS / f"{framework}_cnn.py").read_text(encoding="utf-8"))
    [bug] = [
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign) and [target.id for target in node.targets] == ["SHAPE_BUG"]
    ]
    source = cells.tagged_code(common.CNN_NOTEBOOKS[framework], *common.MODEL_TAGS)
    assert source.count(bug[0]) == 1
    assert bug[1].count(debugging.BUG_MARK) == 1 and "7 * 7" in bug[1], "the planted bug is the 7 × 7 × 64 features"


def hyperparameter_cell(framework: str) -> dict[str, object]:
    """The CNN notebook's hyperparameters read from its cell's syntax, not by running it.

    ``EPOCHS = course.epochs(full=15, fast=6)`` gives ``{"full": 15, "fast": 6}``.
    """
    values = {}
    for node in ast.parse(cells.tagged_code(common.CNN_NOTEBOOKS[framework], "hyperparameters")).body:
        [target] = node.targets
        call = node.value
        if isinstance(call, ast.Call):
            values[target.id] = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        else:
            values[target.id] = ast.literal_eval(call)
    return values


@pytest.mark.parametrize("fast", [True, False], ids=["fast mode", "full mode"])
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_cnn_hyperparameters_are_the_notebooks(fast: bool, framework: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_FAST", "1" if fast else "0")
    expected = hyperparameter_cell(framework)
    expected["EPOCHS"] = expected["EPOCHS"]["fast" if fast else "full"]
    assert common.cnn_hyperparameters() == expected


@pytest.mark.parametrize("folder", notebooks.task_folders(), ids=lambda folder: folder.name)
def test_paired_notebooks_share_one_hyperparameter_cell(folder: Path) -> None:
    sources = {cells.tagged_code(folder / f"{framework}.ipynb", "hyperparameters") for framework in FRAMEWORKS}
    assert len(sources) == 1 and "BATCH_SIZE = 128" in sources.pop()


def test_the_written_out_adam_exists_once() -> None:
    defining = [
        path.relative_to(config.NOTEBOOKS_DIR).as_posix()
        for path in cells.course_notebooks()
        for _, source in cells.code_cells(path)
        if re.search(r"^class Adam\b", source, flags=re.MULTILINE)
    ]
    assert defining == ["01_mlp/tensorflow.ipynb"]


class StandInModule:
    """``tf.Module`` in a stand-in TensorFlow: the written-out Adam subclasses it."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        pass


@pytest.mark.parametrize("task", ["02_cnn", "03_rnn"])
def test_the_tensorflow_cnn_and_rnn_train_with_the_mlp_notebooks_adam(task: str) -> None:
    """Run, their cells make the optimizer from the MLP notebook's Adam cell, not from a copy of it.

    The cells only define things until training starts, so a stand-in TensorFlow is enough to run them.
    """
    tf = mock.MagicMock(Module=StandInModule)
    model = mock.MagicMock(trainable_variables=[mock.MagicMock(), mock.MagicMock()])
    source = cells.tagged_code(f"{task}/tensorflow.ipynb", "hyperparameters", "train-step")
    names = cells.run_code(source, {"course": course_utils, "tf": tf, "model": model})
    adam = type(names["optimizer"])
    assert adam.__name__ == "Adam" and adam.__init__.__code__.co_filename == "<01_mlp/tensorflow.ipynb: Adam>"
    written_out = cells.notebook_definition("01_mlp/tensorflow.ipynb", "Adam", names)
    methods = {name for name, value in vars(written_out).items() if callable(value)}
    assert methods and all(
        getattr(adam, name).__code__.co_code == getattr(written_out, name).__code__.co_code for name in methods
    )


def write_notebook(path: Path, *sources: str) -> Path:
    code = [{"cell_type": "code", "metadata": {}, "source": source, "outputs": []} for source in sources]
    path.write_text(json.dumps({"cells": code, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def test_notebook_definition_runs_the_defining_cell_with_the_callers_names(tmp_path: Path) -> None:
    path = write_notebook(tmp_path / "lesson.ipynb", "SCALE = 100", "class Scaled:\n    factor = SCALE * 2", "x = 1")
    namespace = {"SCALE": 3, "other": "kept"}
    scaled = cells.notebook_definition(path, "Scaled", namespace)
    assert scaled.factor == 6, "the cell's free names come from the caller's namespace"
    assert namespace == {"SCALE": 3, "other": "kept"}, "the caller's names are left untouched"
    with pytest.raises(LookupError, match="0 code cells defining 'Missing'"):
        cells.notebook_definition(path, "Missing", {})
