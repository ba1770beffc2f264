"""The code of a notebook's tagged cells, read as plain JSON: one definition, run wherever it is needed.

The task notebooks tag the cells that define their model and training step. The claims
experiments run exactly those cells, and the low-level TensorFlow notebooks share the
Adam written out in the MLP notebook, so that each piece of framework code exists once.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import linecache
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


def run_code(source: str, namespace: dict, filename: str = "<notebook cells>") -> dict:
    """Run ``source`` in ``namespace``, without its printing (a model summary...), and return the namespace.

    ``filename`` is the name tracebacks give the code: a real file holding ``source`` lets
    them show its lines.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(source, filename, "exec"), namespace)
    return namespace


def notebook_definition(notebook: str | Path, name: str, namespace: dict) -> object:
    """``name`` as the notebook's code cell that defines it makes it, run in a copy of ``namespace``.

    The cell's free names (the framework, its constants) come from ``namespace``, usually the
    caller's ``globals()``; the caller's other names are left untouched.
    """
    cells = [source for _, source in code_cells(notebook) if name in _top_level_names(source)]
    if len(cells) != 1:
        raise LookupError(f"{notebook_path(notebook).name} has {len(cells)} code cells defining {name!r}; expected 1.")
    filename = f"<{notebook}: {name}>"
    # Registered as the code's source, so that tools reading it back (AutoGraph, tracebacks) find it.
    linecache.cache[filename] = (len(cells[0]), None, cells[0].splitlines(keepends=True), filename)
    return run_code(cells[0], dict(namespace), filename=filename)[name]


def _top_level_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not a definition the course shares
        return set()
    return {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}


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
