"""The course's settings: one frozen :class:`Settings`, read from environment variables in one place.

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

Who reads them: the ``course`` command builds its :class:`Settings` once, from the environment and its
options, and passes them down; the notebooks it runs and the workers they start get the same values as
environment variables, written by :meth:`Settings.child_env` alone. A notebook's kernel, which nothing
passes settings to, reads them from the environment its runner gave it (:func:`settings`): a learner may
still set ``COURSE_FAST`` in a first cell, before the course reads it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import os
import sys
from collections.abc import Iterator, Mapping
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
VARIABLES = (
    "COURSE_FAST",
    "COURSE_DATASET",
    "COURSE_DATA_DIR",
    "COURSE_RESULTS_DIR",
    "COURSE_SEED",
    "COURSE_SOLUTIONS",
    "COURSE_EXERCISES",
)
_TRUE = {"1", "true", "yes", "on"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """What a run of the course is asked to do, read once (:meth:`from_environment`) and passed down."""

    fast: bool = False  # the bundled sample and few epochs
    dataset: str | None = None  # None: none asked for, the course's own (MNIST)
    data_dir: Path = dataclasses.field(default_factory=lambda: WORK_DIR / "data")
    results_dir: Path = dataclasses.field(default_factory=lambda: _default_results_dir(os.environ))
    seed: int | None = None  # None: each notebook's own seed
    solutions_withheld: bool = False
    strict_exercises: bool = False

    def __post_init__(self) -> None:
        if self.dataset is not None and self.dataset not in DATASETS:
            raise ValueError(
                f"COURSE_DATASET={self.dataset!r} is not a dataset this course knows. "
                f"Use one of {', '.join(DATASETS)}, or unset it for MNIST."
            )

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings that the ``COURSE_*`` variables of ``environ`` (this process's environment) give."""
        environ = os.environ if environ is None else environ

        def text(name: str) -> str:
            return environ.get(name, "").strip()

        dataset = text("COURSE_DATASET").lower().replace("-", "_") or None
        seed = text("COURSE_SEED")
        try:
            number = int(seed) if seed else None
        except ValueError:
            raise ValueError(
                f"COURSE_SEED={seed!r} is not a whole number. Set it to one, such as 7, "
                "or unset it for the notebook's own seed."
            ) from None
        return cls(
            fast=text("COURSE_FAST").lower() in _TRUE,
            dataset=dataset,
            data_dir=Path(environ.get("COURSE_DATA_DIR") or WORK_DIR / "data").expanduser(),
            results_dir=_default_results_dir(environ),
            seed=number,
            solutions_withheld=text("COURSE_SOLUTIONS").lower() == "withheld",
            strict_exercises=text("COURSE_EXERCISES").lower() == "strict",
        )

    def replace(self, **changes: object) -> Settings:
        """These settings with ``changes``: ``settings.replace(fast=True)``."""
        return dataclasses.replace(self, **changes)

    @property
    def dataset_name(self) -> str:
        """The dataset the task notebooks train on: the one asked for, else MNIST."""
        return self.dataset or DATASETS[0]

    def child_env(self, base: Mapping[str, str] | None = None, **extra: str) -> dict[str, str]:
        """The environment of a process started with these settings: a notebook's kernel, a claim's worker.

        ``base`` (this process's environment) with the ``COURSE_*`` variables that give these settings,
        ``PYTHONHASHSEED`` from the seed (a child reads it as it starts; this process read its own long
        ago), TensorFlow's C++ log at warnings and above unless ``base`` says otherwise, and ``extra`` last.
        """
        env = dict(os.environ if base is None else base)
        env |= {
            "COURSE_FAST": "1" if self.fast else "0",
            "COURSE_DATA_DIR": str(self.data_dir),
            "COURSE_RESULTS_DIR": str(self.results_dir),
        }
        optional = {
            "COURSE_DATASET": self.dataset,
            "COURSE_SEED": None if self.seed is None else str(self.seed),
            "PYTHONHASHSEED": None if self.seed is None else str(self.seed),
            "COURSE_SOLUTIONS": "withheld" if self.solutions_withheld else None,
            "COURSE_EXERCISES": "strict" if self.strict_exercises else None,
        }
        for name, value in optional.items():
            if value is not None:
                env[name] = value
            elif name != "PYTHONHASHSEED":  # a hash seed of the caller's own stays
                env.pop(name, None)
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        return env | extra

    def variables(self) -> dict[str, str]:
        """The ``COURSE_*`` variables that give these settings, and only those."""
        return {name: value for name, value in self.child_env({}).items() if name in VARIABLES}


def _default_results_dir(environ: Mapping[str, str]) -> Path:
    """``COURSE_RESULTS_DIR``, else the project's ``results/`` if this account may write there, else the
    account's own ``$XDG_DATA_HOME/course/results`` (``~/.local/share/...``).

    On a class server the course is one install that students may read but not write (/opt/course), so
    each student's records go to their home instead of a ``PermissionError`` in every task notebook.
    """
    if environ.get("COURSE_RESULTS_DIR"):
        return Path(environ["COURSE_RESULTS_DIR"]).expanduser()
    project = WORK_DIR / "results"
    # The folder, or the nearest folder above it that exists (record_results creates what is missing).
    existing = next(folder for folder in (project, *project.parents) if folder.exists())
    if os.access(existing, os.W_OK | os.X_OK):
        return project
    data_home = Path(environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share").expanduser()
    return data_home / "course" / "results"


_fixed: Settings | None = None  # set by use(), while the `course` command runs something in this process


def settings() -> Settings:
    """The settings in force: those that :func:`use` fixed, else the environment's as it is now."""
    return _fixed if _fixed is not None else Settings.from_environment()


@contextlib.contextmanager
def use(fixed: Settings) -> Iterator[Settings]:
    """Run the block under ``fixed``, this process's settings until it ends (the ``course claims`` command).

    The processes it starts without an environment of their own (the claims' workers, which build
    theirs from this one's) read the same settings from its ``COURSE_*`` variables, which the block has
    set, and which are put back as they were at its end. This process reads ``fixed`` itself.
    """
    global _fixed
    previous, saved = _fixed, {name: os.environ.get(name) for name in VARIABLES}
    _fixed = fixed
    for name in VARIABLES:
        os.environ.pop(name, None)
    os.environ.update(fixed.variables())
    try:
        yield fixed
    finally:
        _fixed = previous
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def fast_mode() -> bool:
    """True when ``COURSE_FAST`` asks for the quick run on the small sample."""
    return settings().fast


def solutions_withheld() -> bool:
    """True when ``COURSE_SOLUTIONS=withheld``: an instructor keeps the answers back while work is graded."""
    return settings().solutions_withheld


def strict_exercises() -> bool:
    """True when ``COURSE_EXERCISES=strict``: the test suite, where an exercise left to do or wrong must fail."""
    return settings().strict_exercises


def dataset_name() -> str:
    """The dataset the task notebooks train on (``COURSE_DATASET``)."""
    return settings().dataset_name


def seed(default: int) -> int:
    """``COURSE_SEED`` if set, else ``default``: rerun every notebook under another seed, unchanged."""
    chosen = settings().seed
    return default if chosen is None else chosen


def data_dir() -> Path:
    """Folder for the dataset cache (``COURSE_DATA_DIR``, else the project's ``data/``)."""
    return settings().data_dir


def results_dir() -> Path:
    """Folder for result records (``COURSE_RESULTS_DIR``, else ``results/`` or the account's own: above)."""
    return settings().results_dir


def epochs(full: int, fast: int) -> int:
    """The number of epochs for the current mode: ``full`` normally, ``fast`` under ``COURSE_FAST``."""
    return fast if fast_mode() else full


def shown_path(path: Path) -> str:
    """``path`` as messages show it: relative to ``WORK_DIR`` when it lies inside it."""
    try:
        return path.resolve().relative_to(WORK_DIR).as_posix()
    except ValueError:
        return str(path)
