"""``course export``: the checked-in package course_models is exactly what the notebooks' cells tagged export make."""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

from course_utils import cells, config
from course_utils.files import load_toml
from course_utils.tasks import TASKS

import pytest

import course_models
from course_tools import export

PACKAGE = Path(course_models.__file__).parent
# What a generated module may import: the learner runtime, the frameworks and NumPy, and its own package.
ALLOWED_IMPORTS = {"course_utils", "course_models", "keras", "numpy", "tensorflow", "torch"}


def test_the_checked_in_course_models_is_what_course_export_writes(tmp_path: Path) -> None:
    written = export.export(out=tmp_path)
    expected = {path.name: path.read_text(encoding="utf-8") for path in written}
    generated = [path for path in PACKAGE.glob("*.py") if export.is_generated(path)]
    checked_in = {path.name: path.read_text(encoding="utf-8") for path in generated}
    assert not export.is_generated(PACKAGE / "__init__.py"), "the package's own code is written by hand"
    assert sorted(checked_in) == sorted(expected), "run `course export`: a module is missing or left over"
    stale = [name for name in expected if checked_in[name] != expected[name]]
    assert not stale, f"course_models/{', '.join(stale)} differ from the notebooks' cells: run `course export`"


def test_each_module_holds_its_notebooks_exported_cells_verbatim_below_its_header() -> None:
    notebooks = export.exported_notebooks()
    assert set(notebooks) >= {"cnn_keras", "cnn_tensorflow", "cnn_pytorch", "mlp_tensorflow"}
    assert course_models.MODULES == tuple(sorted(notebooks))
    for name, path in notebooks.items():
        text = (PACKAGE / f"{name}.py").read_text(encoding="utf-8")
        shown = path.relative_to(config.NOTEBOOKS_DIR.parent).as_posix()
        assert text.splitlines()[0] == f"# Generated from {shown}; do not edit, run `course export`."
        exported = [source for tags, source in cells.code_cells(path) if export.EXPORT_TAG in tags]
        positions = [text.index(source.rstrip()) for source in exported]
        assert positions == sorted(positions), f"{name}: the cells are in notebook order"


def test_the_modules_import_only_the_runtime_the_frameworks_and_each_other() -> None:
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            outside = roots - ALLOWED_IMPORTS - set(sys.stdlib_module_names)
            assert not outside, (
                f"{path.name} imports {outside}: course_models depends on course_utils and the frameworks"
            )


def test_importing_course_models_imports_no_framework_and_no_tooling() -> None:
    probe = (
        "import json, sys, course_models; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'keras', 'tensorflow', 'torch', 'jax', 'course_lab', 'course_tools', 'nbformat'})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


# In a fresh interpreter, as a claims worker: each CNN module run, its model's trainable parameters counted.
BUILD = """
import inspect, json
import course_models
import torch
found = {}
keras_cnn = course_models.fresh("cnn_keras")
found["keras"] = keras_cnn.model.count_params()
tf_cnn = course_models.fresh("cnn_tensorflow")
found["tensorflow"] = sum(int(v.shape.num_elements()) for v in tf_cnn.model.trainable_variables)
pytorch_cnn = course_models.fresh("cnn_pytorch")
found["pytorch"] = sum(p.numel() for p in pytorch_cnn.model.parameters() if p.requires_grad)
again = course_models.fresh("cnn_pytorch")
found["fresh"] = again.model is not pytorch_cnn.model and again.train_step.__globals__["model"] is again.model
from course_models.mlp_tensorflow import Adam
found["adam"] = type(tf_cnn.optimizer) is Adam and inspect.getsourcefile(Adam) == course_models.mlp_tensorflow.__file__
found["source"] = inspect.getsourcefile(type(pytorch_cnn.model)) == pytorch_cnn.__file__
found["script"] = torch.jit.script(pytorch_cnn.model.eval()) is not None
print(json.dumps(found))
"""


def test_the_generated_modules_import_and_build_the_course_models() -> None:
    environment = {"KERAS_BACKEND": "tensorflow", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", BUILD],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **environment},
        cwd=config.WORK_DIR,
    )
    found = json.loads(done.stdout.splitlines()[-1])
    assert len(done.stdout.splitlines()) == 1, "a fresh run keeps what the cells print out of the output"
    for framework in ("keras", "tensorflow", "pytorch"):
        assert found[framework] == TASKS["cnn"].params[framework], framework
    assert found["fresh"], "each fresh run builds its own model, and its train_step trains that one"
    assert found["adam"], "the TensorFlow CNN's optimizer is the MLP notebook's Adam, from its module's file"
    assert found["source"] and found["script"], "inspect and TorchScript read the model's source from its file"


def test_constants_reads_plain_values_without_running_the_module() -> None:
    assert course_models.constants("cnn_keras") == {
        "BATCH_SIZE": 128,
        "LEARNING_RATE": 1e-3,
        "ADAM_EPSILON": 1e-7,
        "DROPOUT": 0.5,
    }
    with pytest.raises(ValueError, match="no generated module"):
        course_models.constants("cnn_jax")


def write_notebook(path: Path, *cells_: tuple[list[str], str]) -> Path:
    code = [
        {"cell_type": "code", "metadata": {"tags": tags}, "source": source, "outputs": [], "execution_count": None}
        for tags, source in cells_
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"cells": code, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


SETUP = (
    [],
    "import time\n\nimport course_utils as course\n\nimport numpy as np\nfrom numpy import linalg, random\n\n"
    "threads = course.setup('numpy')\nscale = 2.0\n",
)


def test_a_module_takes_the_imports_and_names_its_cells_use_from_the_set_up_cell(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "notebooks" / "07_toy" / "numpy.ipynb",
        (["hosted-setup"], "%pip install nothing"),
        SETUP,
        (["hyperparameters", "export"], "SIZE = 3"),
        (["define-model"], "not_exported = 1"),
        (["export"], "def norm(x):\n    return linalg.norm(np.asarray(x) * scale)\n\n\nvalue = norm([SIZE])"),
    )
    assert export.module_name(notebook) == "toy_numpy"
    text = export.module_source(notebook, root=tmp_path / "notebooks")
    header = text.split("# %%")[0]
    assert "import course_utils" not in header and "import time" not in header, "only the imports the cells use"
    assert "import numpy as np\nfrom numpy import linalg\n" in header
    assert "# From the notebook's set-up cell:\nscale = 2.0" in header and "threads" not in header
    assert "not_exported" not in text and text.count("# %% code cell") == 2
    path = tmp_path / "toy_numpy.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("toy_numpy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # imported, as a learner's notebook would: the export step runs nothing
    assert module.value == pytest.approx(6.0)


def test_export_refuses_cells_that_need_a_name_from_a_cell_left_out(tmp_path: Path) -> None:
    notebook = write_notebook(
        tmp_path / "notebooks" / "07_toy" / "numpy.ipynb",
        SETUP,
        (["define-model"], "weights = np.ones(3)"),
        (["export"], "total = weights.sum()"),
    )
    with pytest.raises(export.ExportError, match="weights"):
        export.module_source(notebook, root=tmp_path / "notebooks")


def test_export_writes_the_package_and_removes_a_module_no_notebook_makes(tmp_path: Path) -> None:
    root = tmp_path / "notebooks"
    write_notebook(root / "07_toy" / "numpy.ipynb", SETUP, (["export"], "SIZE = 3"))
    out = tmp_path / "course_models"
    out.mkdir()
    (out / "gone_numpy.py").write_text(
        "# Generated from notebooks/07_gone/numpy.ipynb; do not edit, run `course export`.\n"
    )
    (out / "__init__.py").write_text('"""Written by hand."""\n')
    written = export.export(out=out, root=root)
    assert [path.name for path in written] == ["toy_numpy.py"]
    assert sorted(path.name for path in out.iterdir()) == ["__init__.py", "toy_numpy.py"], "only generated ones go"


def test_the_wheel_takes_course_models() -> None:
    from setuptools import find_packages

    include = load_toml(config.PROJECT_ROOT / "pyproject.toml")["tool"]["setuptools"]["packages"]["find"]["include"]
    assert "course_models" in find_packages(where=config.PROJECT_ROOT, include=include)
