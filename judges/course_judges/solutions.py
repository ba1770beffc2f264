"""The exercises' answers: one file per notebook under ``solutions/`` beside this module, a section per exercise.

They live apart from the notebooks, so that nothing a learner types can lose them. A file
mirrors its notebook's path (``solutions/02_cnn/keras.py`` answers ``notebooks/02_cnn/keras.ipynb``)
and holds, for each exercise, a section headed ``# %% cnn.third_conv``: the code that replaces
the ``...`` lines of that exercise's cell.
"""

from __future__ import annotations

import re
from pathlib import Path

from course_utils import config
from course_utils.tasks import FRAMEWORKS

SOLUTIONS_DIR = Path(__file__).with_name("solutions")  # one file per notebook, a section per exercise

SECTION = re.compile(r"^# %% ([\w.]+)[ \t]*$", re.MULTILINE)


def sections(path: Path) -> dict[str, str]:
    """Each exercise id of the solutions file ``path`` with its answer's code."""
    parts = SECTION.split(path.read_text(encoding="utf-8"))
    return {exercise_id: code.strip("\n") for exercise_id, code in zip(parts[1::2], parts[2::2])}


def solutions_file(notebook: Path, root: Path | None = None) -> Path:
    """The solutions file of ``notebook``, a path under the course's ``notebooks/`` folder."""
    relative = notebook.resolve().relative_to((root or config.NOTEBOOKS_DIR).resolve())
    return SOLUTIONS_DIR / relative.with_suffix(".py")


def answers(exercise_id: str) -> dict[str | None, str]:
    """The answer of ``exercise_id`` in each framework that has one (None: the same in every framework)."""
    task = exercise_id.split(".", 1)[0]
    found: dict[str | None, str] = {}
    paths: list[Path] = []
    for pattern in (f"*_{task}.py", f"*_{task}/*.py"):  # solutions/00_welcome.py, solutions/02_cnn/keras.py
        paths += sorted(SOLUTIONS_DIR.glob(pattern))
    for path in paths:
        code = sections(path).get(exercise_id)
        if code is not None:
            found[path.stem if path.stem in FRAMEWORKS else None] = code
    return found
