"""Paired notebooks say the same thing wherever the frameworks agree; course_tools.parity lists where they don't."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from course_tools import notebooks, parity

TASK_FOLDERS = notebooks.task_folders()


@pytest.mark.parametrize("folder", TASK_FOLDERS, ids=lambda folder: folder.name)
def test_paired_prose_differs_only_where_listed(folder: Path) -> None:
    found = parity.prose_differences(folder)
    unlisted = {place: texts for place, texts in found.items() if place not in parity.PROSE_DIFFERENCES}
    assert not unlisted, (
        "markdown that differs between the paired notebooks, and is not in course_tools.parity.PROSE_DIFFERENCES: "
        "make it identical, or list it with the reason:\n"
        + "\n".join(f"{place}: {texts}" for place, texts in unlisted.items())
    )


def test_every_listed_difference_still_exists() -> None:
    found = {place for folder in TASK_FOLDERS for place in parity.prose_differences(folder)}
    stale = sorted(set(parity.PROSE_DIFFERENCES) - found)
    assert not stale, f"listed in PROSE_DIFFERENCES, but now identical or gone: remove them: {stale}"


def write_notebook(path: Path, *markdown: str) -> None:
    cells = [{"cell_type": "markdown", "metadata": {}, "source": text} for text in markdown]
    path.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))


def test_a_changed_sentence_is_found_and_the_title_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "01_mlp"
    folder.mkdir()
    for framework, name in (("keras", "Keras"), ("tensorflow", "TensorFlow"), ("pytorch", "PyTorch")):
        setup = "## Setup\n\nSeeds  everything." if framework != "pytorch" else "## Setup\n\nSeeds everything!"
        write_notebook(folder / f"{framework}.ipynb", f"# Task 1: {name}\n\n**Same task in:** [x](x.ipynb)", setup)
    assert parity.prose_differences(folder) == {
        ("01_mlp", "## Setup", 0): {
            "keras": "## Setup Seeds everything.",
            "tensorflow": "## Setup Seeds everything.",
            "pytorch": "## Setup Seeds everything!",
        }
    }
