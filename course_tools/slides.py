"""Slides from a notebook, for presenting it in class with reveal.js.

The notebooks carry no slide marks of their own. Here each title and ``##`` section starts
a slide, each ``###`` heading a sub-slide (reveal.js puts those below the slide), and
every other cell stays on the slide of the heading above it; long slides scroll.
"""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import nbformat

from . import notebooks

SLIDE_TYPES = (("# ", "slide"), ("## ", "slide"), ("### ", "subslide"))


def slide_type(cell: nbformat.NotebookNode) -> str:
    """``slide``, ``subslide``, or ``-`` (same slide as the cell before), from the cell's heading."""
    if cell.cell_type == "markdown":
        first_line = cell.source.lstrip().split("\n", 1)[0]
        for prefix, kind in SLIDE_TYPES:
            if first_line.startswith(prefix):
                return kind
    return "-"


def mark_slides(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``notebook`` whose cells carry reveal.js slide types."""
    marked = copy.deepcopy(notebook)
    for cell in marked.cells:
        cell.metadata["slideshow"] = {"slide_type": slide_type(cell)}
    return marked


def write_slides(path: Path, out: Path, execute: bool = False, reveal_prefix: str | None = None) -> Path:
    """Write ``path`` as reveal.js slides to ``out/<folder>_<name>.slides.html`` and return that file.

    With ``execute``, the notebook is first run in fast mode, so the slides show its outputs.
    ``reveal_prefix`` points at a local copy of reveal.js 4, for a classroom without internet.
    """
    from nbconvert import SlidesExporter

    path = Path(path)
    if execute:
        with tempfile.TemporaryDirectory() as scratch:
            executed = Path(scratch) / path.name
            outcome = notebooks.run_notebook(
                path, env={"COURSE_FAST": "1", "COURSE_RESULTS_DIR": scratch}, save_to=executed
            )
            if not outcome.ok:
                raise RuntimeError(f"{path} did not run: {outcome.error}")
            notebook = nbformat.read(executed, as_version=4)
    else:
        notebook = nbformat.read(path, as_version=4)
    exporter = SlidesExporter(reveal_scroll=True)
    if reveal_prefix:
        exporter.reveal_url_prefix = reveal_prefix
    body, _ = exporter.from_notebook_node(mark_slides(notebook), resources={"metadata": {"name": path.stem}})
    out.mkdir(parents=True, exist_ok=True)
    target = out / f"{path.parent.name}_{path.stem}.slides.html"
    target.write_text(body)
    return target
