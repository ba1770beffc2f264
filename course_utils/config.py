"""Course settings read from environment variables, in one place.

| variable            | meaning                                                   | default        |
|---------------------|-----------------------------------------------------------|----------------|
| ``COURSE_FAST``     | ``1``: the small bundled sample and few epochs            | ``0`` (full)   |
| ``COURSE_DATASET``  | ``mnist`` or ``fashion_mnist``                            | ``mnist``      |
| ``COURSE_DATA_DIR`` | where downloaded datasets are cached                      | ``<repo>/data``|
| ``COURSE_RESULTS_DIR`` | where notebooks write their JSON records               | ``<repo>/results`` (below) |
| ``COURSE_SEED``     | the seed of every random number generator                 | the notebook's |
| ``COURSE_SOLUTIONS``| ``withheld``: ``exercises.solution`` shows no answer      | shown          |
| ``COURSE_EXERCISES``| ``strict``: an unanswered or wrong exercise raises (tests)| told in a line |

Results go to the project's ``results/`` when this account may write there, else to a folder of the
account's own, ``$XDG_DATA_HOME/course/results`` (``~/.local/share/course/results``): on a class server
the course is installed once, read-only for the students, and each student keeps their own records.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
# A checkout holds the notebooks. A wheel installed on a hosted runtime (Colab, Kaggle) does not: there
# the sample and the notebooks come with the wheel, and the data and results go beside the notebook.
IN_CHECKOUT = (PROJECT_ROOT / "notebooks").is_dir()


def _installed_share() -> Path:
    """The wheel's ``share/course-utils``, wherever the installer put it (a venv, /usr/local, ~/.local)."""
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.files("course-utils") or []:
            if file.name == "mnist_sample.npz":
                return Path(file.locate()).resolve().parent.parent
    return Path(sys.prefix) / "share" / "course-utils"


# Where the course writes its data, results, runs and exports: the checkout, or the notebook's folder.
WORK_DIR = PROJECT_ROOT if IN_CHECKOUT else Path.cwd()
_SHARE_DIR = PROJECT_ROOT if IN_CHECKOUT else _installed_share()
SAMPLE_PATH = _SHARE_DIR / "data" / "mnist_sample.npz"
NOTEBOOKS_DIR = _SHARE_DIR / "notebooks"
SOLUTIONS_DIR = _SHARE_DIR / "solutions"  # the exercises' answers, one file per notebook
DATASETS = ("mnist", "fashion_mnist")
_TRUE = {"1", "true", "yes", "on"}


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` asks for the quick run on the small sample."""
    return os.environ.get("COURSE_FAST", "0").strip().lower() in _TRUE


def solutions_withheld() -> bool:
    """True when ``COURSE_SOLUTIONS=withheld``: an instructor keeps the answers back while work is graded."""
    return os.environ.get("COURSE_SOLUTIONS", "").strip().lower() == "withheld"


def strict_exercises() -> bool:
    """True when ``COURSE_EXERCISES=strict``: the test suite, where an exercise left to do or wrong must fail."""
    return os.environ.get("COURSE_EXERCISES", "").strip().lower() == "strict"


def dataset_name() -> str:
    """The dataset the task notebooks train on (``COURSE_DATASET``)."""
    name = os.environ.get("COURSE_DATASET", "mnist").strip().lower().replace("-", "_")
    if name not in DATASETS:
        raise ValueError(
            f"COURSE_DATASET={name!r} is not a dataset this course knows. "
            f"Use one of {', '.join(DATASETS)}, or unset it for MNIST."
        )
    return name


def seed(default: int) -> int:
    """``COURSE_SEED`` if set, else ``default``: rerun every notebook under another seed, unchanged."""
    value = os.environ.get("COURSE_SEED", "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"COURSE_SEED={value!r} is not a whole number. Set it to one, such as 7, "
            "or unset it for the notebook's own seed."
        ) from None


def data_dir() -> Path:
    """Folder for the dataset cache (``COURSE_DATA_DIR``, else the project's ``data/``)."""
    return Path(os.environ.get("COURSE_DATA_DIR") or WORK_DIR / "data").expanduser()


def results_dir() -> Path:
    """Folder for result records: ``COURSE_RESULTS_DIR``, else the project's ``results/`` if this account
    may write there, else the account's own ``$XDG_DATA_HOME/course/results`` (``~/.local/share/...``).

    On a class server the course is one install that students may read but not write (/opt/course), so
    each student's records go to their home instead of a ``PermissionError`` in every task notebook.
    """
    override = os.environ.get("COURSE_RESULTS_DIR")
    if override:
        return Path(override).expanduser()
    project = WORK_DIR / "results"
    # The folder, or the nearest folder above it that exists (record_results creates what is missing).
    existing = next(folder for folder in (project, *project.parents) if folder.exists())
    if os.access(existing, os.W_OK | os.X_OK):
        return project
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data_home / "course" / "results"


def epochs(full: int, fast: int) -> int:
    """The number of epochs for the current mode: ``full`` normally, ``fast`` under ``COURSE_FAST``."""
    return fast if fast_mode() else full


def shown_path(path: Path) -> str:
    """``path`` as messages show it: relative to ``WORK_DIR`` when it lies inside it."""
    try:
        return path.resolve().relative_to(WORK_DIR).as_posix()
    except ValueError:
        return str(path)
