"""A notebook run as a hosted runtime (Colab, Kaggle) runs it: no checkout, the course installed from a wheel.

The test environment is a fresh virtual environment holding only the course's wheel, built from this
checkout. It sees the frameworks (large, and preinstalled on a hosted runtime) through a path entry
to this environment's packages; that entry is not a site directory, so the editable install of this
checkout there stays inactive. The notebook runs from a folder of its own, like /content on Colab.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from course_utils import config

import nbformat
import pytest

from course_tools import notebooks

# The low-level TensorFlow CNN runs a cell of the MLP notebook, which a hosted runtime has only in the wheel.
HOSTED_NOTEBOOKS = ("01_mlp/pytorch.ipynb", "02_cnn/tensorflow.ipynb")

RUN_NOTEBOOK = """
import sys
import nbformat
from nbclient import NotebookClient

notebook = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(notebook, kernel_name="python3", timeout=600).execute()
nbformat.write(notebook, sys.argv[1])
"""


@pytest.fixture(scope="module")
def hosted_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The python of a fresh environment with the course's wheel and, by path, the frameworks."""
    root = tmp_path_factory.mktemp("hosted")
    wheels = root / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", wheels, "."],
        cwd=config.PROJECT_ROOT,
        check=True,
    )
    environment = root / "env"
    subprocess.run([sys.executable, "-m", "venv", environment], check=True)
    python = environment / "bin" / "python"
    purelib = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    (Path(purelib) / "frameworks.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (wheel,) = wheels.glob("course_utils-*.whl")
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", wheel], check=True)
    return python


def test_the_wheel_holds_the_sample_and_the_notebooks_and_imports_outside_the_checkout(
    hosted_python: Path, tmp_path: Path
) -> None:
    probe = (
        "import importlib.util, json, sys, course_utils, course_utils.config as c; "
        "print(json.dumps([course_utils.__file__, str(c.SAMPLE_PATH), c.SAMPLE_PATH.is_file(), c.IN_CHECKOUT, "
        "sorted(p.relative_to(c.NOTEBOOKS_DIR).as_posix() for p in c.NOTEBOOKS_DIR.rglob('*.ipynb')), "
        "importlib.util.find_spec('course_judges') is not None, "
        "[str(p) for p in __import__('pathlib').Path(sys.prefix).rglob('solutions')]]))"
    )
    found = subprocess.run([hosted_python, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True)
    module, sample, sample_there, in_checkout, shipped, references, solutions = json.loads(found.stdout)
    # The runtime's wheel carries no answers: they are the course-judges distribution's (judges/).
    assert not references and not solutions, (references, solutions)
    assert not module.startswith(str(config.PROJECT_ROOT)), "the checkout's course_utils was imported"
    assert sample_there and not in_checkout, sample
    # The paired task notebooks, whose cells the study notebooks show side by side: pyproject's data-files.
    tasks = [path for folder in notebooks.task_folders() for path in sorted(folder.glob("*.ipynb"))]
    assert shipped == sorted(path.relative_to(config.NOTEBOOKS_DIR).as_posix() for path in tasks)


@pytest.mark.parametrize("name", HOSTED_NOTEBOOKS)
def test_a_task_notebook_runs_as_on_a_hosted_runtime(name: str, hosted_python: Path, tmp_path: Path) -> None:
    notebook = tmp_path / Path(name).name
    shutil.copy(config.NOTEBOOKS_DIR / name, notebook)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("COURSE_")}
    environment |= {"COURSE_FAST": "1", "PYTHONPATH": ""}
    subprocess.run(
        [hosted_python, "-c", RUN_NOTEBOOK, notebook], cwd=tmp_path, env=environment, check=True, timeout=900
    )
    outputs = "".join(
        output.get("text", "")
        for cell in nbformat.read(notebook, as_version=4).cells
        for output in cell.get("outputs", [])
    )
    assert "✓" in outputs and "Traceback" not in outputs and "yours to do" in outputs
    task, framework = Path(name).parent.name.split("_")[1], Path(name).stem
    assert list((tmp_path / "results").glob(f"{task}_{framework}_*.json")), "the record goes beside the notebook"


@pytest.mark.parametrize("path", notebooks.course_notebooks(), ids=lambda path: config.shown_path(path))
def test_every_notebook_opens_in_colab_and_installs_the_course_from_its_repository(path: Path) -> None:
    repository = notebooks.repository()
    cells = nbformat.read(path, as_version=4).cells
    badge = f"https://colab.research.google.com/github/{repository}/blob/main/{config.shown_path(path)})"
    assert badge in cells[0].source, "the first cell's Colab badge must open this notebook"
    setup = cells[1]
    assert notebooks.HOSTED_SETUP in setup.metadata.get("tags", []), "the second cell installs the course"
    # A study notebook (it imports course_lab) needs the extra `lab`; a task notebook, the runtime alone.
    study = any("course_lab" in cell.source for cell in cells if cell.cell_type == "code")
    extra = "[lab]" if study else ""
    assert f'%pip install --quiet "course-utils{extra} @ git+https://github.com/{repository}"' in setup.source
    # and the exercises' references, a distribution of their own (judges/), for the instant ✓ or ✗
    assert f'"course-judges @ git+https://github.com/{repository}#subdirectory=judges"' in setup.source
    assert 'if importlib.util.find_spec("course_utils") is None:' in setup.source


def test_the_readme_badges_name_the_same_repository() -> None:
    readme = (config.PROJECT_ROOT / "README.md").read_text()
    assert f"mybinder.org/v2/gh/{notebooks.repository()}/" in readme
    assert f"colab.research.google.com/github/{notebooks.repository()}/" in readme
