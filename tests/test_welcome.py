"""The welcome notebook's map lists every notebook of the course, with the time each one states."""

from __future__ import annotations

import re
from pathlib import Path

from course_utils import config

import nbformat

from course_tools import notebooks

WELCOME = config.NOTEBOOKS_DIR / "00_welcome.ipynb"
STATED_TIME = re.compile(r"\*\*Estimated time:\*\* (\d+) minutes")


def map_entries() -> list[tuple[Path, int]]:
    """Each notebook on the map, with the minutes the map gives it: ``[name](path) (N min)``, or its row's."""
    cells = nbformat.read(WELCOME, as_version=4).cells
    text = next(cell.source for cell in cells if cell.source.startswith("## The map"))
    entries = []
    for line in text.splitlines():
        row_minutes = re.search(r"\| (\d+) min[^|]*\|$", line)
        if not (line.startswith("|") and row_minutes):
            continue
        links = re.findall(r"\]\(([^)]+\.ipynb)\)(?: \((\d+) min\))?", line)
        for link, minutes in links or [(WELCOME.name, "")]:
            entries.append(((config.NOTEBOOKS_DIR / link).resolve(), int(minutes or row_minutes.group(1))))
    return entries


def stated_minutes(path: Path) -> int:
    first_cell = nbformat.read(path, as_version=4).cells[0].source
    found = STATED_TIME.search(first_cell)
    assert found, f"{path.name} does not state its **Estimated time:** in its first cell"
    return int(found.group(1))


def test_the_map_links_only_to_notebooks_that_exist() -> None:
    for link, _ in map_entries():
        assert link.is_file(), f"the welcome map links to {link}, which does not exist"


def test_every_notebook_is_on_the_map() -> None:
    on_the_map = {link for link, _ in map_entries()}
    missing = [path for path in notebooks.course_notebooks() if path.resolve() not in on_the_map]
    assert not missing, f"the welcome map lacks {[str(p.relative_to(config.NOTEBOOKS_DIR)) for p in missing]}"


def test_the_map_gives_each_notebook_the_time_it_states() -> None:
    for link, minutes in map_entries():
        assert stated_minutes(link) == minutes, f"{link.name}: the map says {minutes} min"
