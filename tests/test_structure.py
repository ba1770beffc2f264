"""Paired notebooks share one skeleton, and each imports only its own framework."""

from __future__ import annotations

import re
from pathlib import Path

from course_utils import cells
from course_utils.tasks import FRAMEWORK_MODULES, FRAMEWORKS

import nbformat
import pytest

from course_tools import notebooks

SKELETON = ["## Setup", "## Data", "## Model", "## Training", "## Evaluation", "## Check", "## Exercises"]
COMPARED_TAGS = ("define-model", "train-step", "evaluate")
PAIRED = [
    folder / f"{framework}.ipynb"
    for folder in notebooks.task_folders()
    for framework in FRAMEWORKS
    if (folder / f"{framework}.ipynb").is_file()
]


def headings(path: Path) -> list[str]:
    notebook = nbformat.read(path, as_version=4)
    return [
        line.strip()
        for cell in notebook.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if line.startswith("## ")
    ]


def imported_modules(path: Path) -> set[str]:
    notebook = nbformat.read(path, as_version=4)
    code = "\n".join(cell.source for cell in notebook.cells if cell.cell_type == "code")
    return set(re.findall(r"^\s*(?:import|from)\s+(\w+)", code, flags=re.MULTILINE))


@pytest.mark.parametrize("path", PAIRED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_paired_notebook_follows_the_skeleton(path: Path) -> None:
    assert headings(path) == SKELETON


@pytest.mark.parametrize("path", PAIRED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_paired_notebook_tags_the_compared_steps(path: Path) -> None:
    for tag in COMPARED_TAGS:
        assert cells.tagged_code(path, tag).strip(), f"{path} has no cell tagged {tag!r}"


@pytest.mark.parametrize("path", PAIRED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_imports_only_its_own_framework(path: Path) -> None:
    own = FRAMEWORK_MODULES[path.stem]
    others = set(FRAMEWORK_MODULES.values()) - {own}
    modules = imported_modules(path)
    assert own in modules, f"{path} does not import {own}"
    assert not modules & others, f"{path} imports {sorted(modules & others)} besides {own}"
