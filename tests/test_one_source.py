"""One definition of each model and training step: the notebooks' cells, which the claims experiments run."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

from course_utils import cells, config
from course_utils.tasks import FRAMEWORKS

import pytest

import course_claims
from course_claims import common, debugging
from course_tools import notebooks

CLAIMS = Path(course_claims.__file__).parent
PACKAGES = [CLAIMS.parent / name for name in ("course_utils", "course_tools", "course_claims")]
# What building a model or an optimizer looks like in each framework: none of it may live outside the notebooks.
MODEL_CODE = re.compile(
    r"class \w+\((?:nn\.Module|tf\.Module|keras\.Model)\)|keras\.Sequential\(|nn\.Conv2d\(|layers\.Conv2D\("
    r"|tf\.nn\.conv2d\(|class Adam\b|def glorot_uniform\b|torch\.optim\.Adam\(|keras\.optimizers\.Adam\("
)


def test_no_package_defines_a_model_or_an_optimizer() -> None:
    found = [
        f"{path.relative_to(CLAIMS.parent)}:{number}: {line.strip()}"
        for package in PACKAGES
        for path in package.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MODEL_CODE.search(line)
    ]
    assert not found, "model code belongs in the notebooks' tagged cells, not in the packages:\n" + "\n".join(found)


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_claims_run_the_cnn_notebooks_model_and_step(framework: str) -> None:
    source = cells.tagged_code(common.CNN_NOTEBOOKS[framework], *common.MODEL_TAGS)
    assert "model = " in source and "DROPOUT = 0.5" in source
    if framework != "keras":
        assert "def train_step(" in source
    worker = (CLAIMS / f"{framework}_cnn.py").read_text(encoding="utf-8")
    assert f'notebook_cnn("{framework}"' in worker, f"{framework}_cnn.py does not build its model from the notebook"


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
    for task in ("02_cnn", "03_rnn"):
        source = cells.tagged_code(f"{task}/tensorflow.ipynb", "train-step")
        assert 'course.notebook_definition("01_mlp/tensorflow.ipynb", "Adam", globals())' in source


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
