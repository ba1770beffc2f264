"""The code of a notebook's tagged cells, read as plain JSON, to show it: nothing here runs it.

The task notebooks tag the cells that define their model and training step, so that the study
notebooks can show them side by side. The code that notebooks and claims reuse is the package
``course_models``, which ``course export`` writes from the cells tagged ``export``.
"""

from __future__ import annotations

import json
from pathlib import Path

from . import config
from .tasks import TASKS

# The cell, second in every notebook, that installs the course on a hosted runtime (Colab, Kaggle).
HOSTED_SETUP = "hosted-setup"


def notebook_path(notebook: str | Path) -> Path:
    """``notebook`` as a path: absolute, or relative to the course's ``notebooks/`` folder."""
    path = Path(notebook)
    return path if path.is_absolute() else config.NOTEBOOKS_DIR / path


def code_cells(notebook: str | Path) -> list[tuple[list[str], str]]:
    """Each code cell of the notebook as ``(tags, source)``, in order."""
    path = notebook_path(notebook)
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} is not there: the course's notebooks must be beside course_utils.") from None
    return [
        (cell.get("metadata", {}).get("tags", []), "".join(cell["source"]))
        for cell in cells
        if cell["cell_type"] == "code"
    ]


def tagged_code(notebook: str | Path, *tags: str) -> str:
    """The source of the code cells tagged with any of ``tags``, in notebook order, joined by blank lines."""
    return "\n\n".join(source for cell_tags, source in code_cells(notebook) if set(cell_tags) & set(tags))


def course_notebooks(root: Path | None = None) -> list[Path]:
    """Every notebook of the course, sorted by path: the numbered folders are the order to take them in."""
    root = root or config.NOTEBOOKS_DIR
    return sorted(path for path in root.rglob("*.ipynb") if ".ipynb_checkpoints" not in path.parts)


def task_folders(root: Path | None = None) -> list[Path]:
    """The paired-task folders, such as ``notebooks/01_mlp``, which hold one notebook per framework."""
    root = root or config.NOTEBOOKS_DIR
    return sorted(
        folder for folder in root.glob("[0-9][0-9]_*") if folder.is_dir() and folder.name.split("_", 1)[1] in TASKS
    )
