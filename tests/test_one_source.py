"""One definition of each model and training step: the notebooks' cells, exported to course_models, which the
claims experiments and other notebooks import."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from course_utils import cells, config
from course_utils.tasks import FRAMEWORKS, TASKS

import pytest

import course_lab.claims
import course_models
from course_lab.claims import common, debugging
from course_tools import notebooks

CLAIMS = Path(course_lab.claims.__file__).parent
MODELS = Path(course_models.__file__).parent
# Where no model may be written by hand: course_models is generated from the notebooks (tests/test_export.py).
PACKAGES = [config.PROJECT_ROOT / name for name in ("course_utils", "course_tools", "course_lab")]
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


def planted_bugs(source: str) -> set[int]:
    """The lines of the functions that plant a bug on purpose (each holds a ``# BUG`` line): a wrong model is
    their point, made from the notebook's own (see the tests of the planted bugs below)."""
    return {
        number
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef) and debugging.BUG_MARK in ast.get_source_segment(source, node)
        for number in range(node.lineno, node.end_lineno + 1)
    }


def test_no_package_defines_a_model_or_an_optimizer() -> None:
    found = []
    for package in PACKAGES:
        assert package.is_dir(), package
        for path in package.rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            found += [
                f"{path.relative_to(config.PROJECT_ROOT)}:{number}: {what}"
                for number, what in model_code(source)
                if number not in planted_bugs(source)
            ]
    assert not found, "model code belongs in the notebooks' exported cells, not in the packages:\n" + "\n".join(found)


# Run in a fresh interpreter, as a claims worker is: imports each worker and builds its model from course_models.
BUILD_IN_EACH_WORKER = """
import importlib, json, sys
found = {}
for framework in ("keras", "tensorflow", "pytorch"):
    names = importlib.import_module(f"course_lab.claims.{framework}_cnn")._notebook()
    model = names["model"]
    if framework == "keras":
        params = model.count_params()
    elif framework == "pytorch":
        params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    else:
        params = sum(int(v.shape.num_elements()) for v in model.trainable_variables)
    found[framework] = {
        "params": params,
        "file": names["__file__"],
        "module": names["__name__"],
        "train_step": "train_step" in names,
        "device": str(names.get("device", "cpu")),
    }
print(json.dumps(found))
"""


def test_the_claims_workers_build_the_cnn_notebooks_model_and_step() -> None:
    """Each worker runs the CNN notebook's exported cells, from course_models (which test_export keeps equal
    to the notebook): the model a claim measures is the one the course teaches."""
    done = subprocess.run(
        [sys.executable, "-c", BUILD_IN_EACH_WORKER],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"},
        cwd=config.WORK_DIR,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    for framework in FRAMEWORKS:
        module = common.CNN_MODULES[framework]
        assert found[framework]["module"] == f"course_models.{module}", framework
        assert Path(found[framework]["file"]) == MODELS / f"{module}.py", framework
        assert found[framework]["params"] == TASKS["cnn"].params[framework], f"{framework}: not the course's CNN"
        # Keras trains with fit(); the other two notebooks write their training step out.
        assert found[framework]["train_step"] == (framework != "keras"), framework
    assert found["pytorch"]["device"] == "cpu", "the claims compare the frameworks on the CPU"


def planted_bug(framework: str) -> ast.FunctionDef:
    """The worker's ``_with_shape_bug``: the function that plants the shape bug."""
    tree = ast.parse((CLAIMS / f"{framework}_cnn.py").read_text(encoding="utf-8"))
    [function] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == "_with_shape_bug"]
    return function


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_planted_shape_bug_is_one_marked_line_of_the_experiments_own(framework: str) -> None:
    source = ast.get_source_segment(
        (CLAIMS / f"{framework}_cnn.py").read_text(encoding="utf-8"), planted_bug(framework)
    )
    [bug] = [line for line in source.splitlines() if debugging.BUG_MARK in line]
    assert "7 * 7" in bug, "the planted bug is the 7 × 7 × 64 features"


@pytest.mark.parametrize("framework", ["tensorflow", "pytorch"])
def test_the_planted_shape_bug_overrides_one_method_of_the_notebooks_cnn_by_one_line(framework: str) -> None:
    """The buggy CNN subclasses the notebook's and overrides one method, which differs from it in the bug alone."""
    [subclass] = [node for node in planted_bug(framework).body if isinstance(node, ast.ClassDef)]
    [method] = subclass.body
    generated = ast.parse((MODELS / f"{common.CNN_MODULES[framework]}.py").read_text(encoding="utf-8"))
    [cnn] = [node for node in generated.body if isinstance(node, ast.ClassDef) and node.name == "CNN"]
    [original] = [node for node in cnn.body if isinstance(node, ast.FunctionDef) and node.name == method.name]
    ours, theirs = ast.unparse(method).splitlines(), ast.unparse(original).splitlines()
    changed = [(mine, notebook) for mine, notebook in zip(ours, theirs) if mine != notebook]
    assert len(ours) == len(theirs) and len(changed) == 1, changed
    assert "7 * 7" in changed[0][0] and "7 * 7" not in changed[0][1]


def test_the_planted_keras_bug_puts_a_reshape_where_the_notebooks_cnn_flattens() -> None:
    source = ast.unparse(planted_bug("keras"))
    assert "layers.Flatten" in source and "layers.Reshape((7 * 7 * 64,))" in source
    assert "model.layers[:flatten]" in source and "model.layers[flatten + 1:]" in source, "the notebook's other layers"


def hyperparameter_cell(framework: str) -> dict[str, object]:
    """The CNN notebook's hyperparameters read from its cell's syntax, not by running it.

    ``EPOCHS = course.epochs(full=15, fast=6)`` gives ``{"full": 15, "fast": 6}``.
    """
    values = {}
    for node in ast.parse(cells.tagged_code(f"02_cnn/{framework}.ipynb", "hyperparameters")).body:
        [target] = node.targets
        call = node.value
        if isinstance(call, ast.Call):
            values[target.id] = {keyword.arg: ast.literal_eval(keyword.value) for keyword in call.keywords}
        else:
            values[target.id] = ast.literal_eval(call)
    return values


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_the_cnn_hyperparameters_are_the_notebooks(framework: str) -> None:
    expected = hyperparameter_cell(framework)
    epochs = expected.pop("EPOCHS")
    assert course_models.constants(common.CNN_MODULES[framework]) == expected
    assert common.BATCH_SIZE == expected["BATCH_SIZE"]
    source = (MODELS / f"{common.CNN_MODULES[framework]}.py").read_text(encoding="utf-8")
    assert f"EPOCHS = course.epochs(full={epochs['full']}, fast={epochs['fast']})" in source


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
    generated = [path.name for path in MODELS.glob("*.py") if re.search(r"^class Adam\b", path.read_text(), re.M)]
    assert generated == ["mlp_tensorflow.py"]


ADAM_IMPORT = "from course_models.mlp_tensorflow import Adam"


@pytest.mark.parametrize("task", ["02_cnn", "03_rnn"])
def test_the_tensorflow_cnn_and_rnn_train_with_the_mlp_notebooks_adam(task: str) -> None:
    """Their training-step cells import the Adam that `course export` writes from the MLP notebook's cell."""
    source = cells.tagged_code(f"{task}/tensorflow.ipynb", "train-step")
    imports = [ast.unparse(node) for node in ast.parse(source).body if isinstance(node, ast.ImportFrom)]
    assert imports == [ADAM_IMPORT]
    assert "optimizer = Adam(model.trainable_variables, LEARNING_RATE)" in source
    if task == "02_cnn":  # the CNN's module, which the claims train, takes the same Adam
        assert ADAM_IMPORT in (MODELS / "cnn_tensorflow.py").read_text(encoding="utf-8")
