"""Finding, running and cleaning the course notebooks (with nbformat and nbclient)."""

from __future__ import annotations

import functools
import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from course_utils import config
from course_utils.cells import HOSTED_SETUP, course_notebooks, task_folders
from course_utils.config import Settings

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


@functools.cache
def repository() -> str:
    """The course's GitHub repository, ``owner/name``: pyproject.toml's ``[project.urls] Repository``.

    Outside a checkout there is no pyproject.toml; the installed package's metadata carries the same URL.
    """
    pyproject = config.PROJECT_ROOT / "pyproject.toml"
    if pyproject.is_file():
        from course_utils.files import load_toml

        url = load_toml(pyproject)["project"]["urls"]["Repository"]
    else:
        from importlib.metadata import metadata

        urls = dict(entry.split(", ", 1) for entry in metadata("course-utils").get_all("Project-URL") or [])
        url = urls["Repository"]
    return url.removeprefix("https://github.com/")


__all__ = [
    "HOSTED_SETUP",
    "CHECK_OUTPUT_TAG",
    "without_check_marks",
    "ChildMemorySampler",
    "Job",
    "RunOutcome",
    "clean",
    "course_notebooks",
    "is_clean",
    "run_jobs",
    "run_notebook",
    "task_folders",
]

# nbval compares the recorded outputs of the code cells with this tag: a tag, so that a learner never reads it.
CHECK_OUTPUT_TAG = "nbval-check-output"


def checks_output(cell: nbformat.NotebookNode) -> bool:
    """True if nbval compares this cell's outputs with the recorded ones."""
    return CHECK_OUTPUT_TAG in cell.metadata.get("tags", [])


def without_check_marks(cell: nbformat.NotebookNode) -> None:
    """Drop nbval's tag from ``cell``: it means nothing once the recorded outputs are gone."""
    tags = [tag for tag in cell.metadata.get("tags", []) if tag != CHECK_OUTPUT_TAG]
    if tags:
        cell.metadata["tags"] = tags
    else:
        cell.metadata.pop("tags", None)


@dataclass
class RunOutcome:
    """How one notebook's run ended."""

    path: Path
    seconds: float
    error: str | None = None  # None when every cell ran
    peak_memory_mb: float | None = None  # the kernel and the processes it started, together

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def cost(self) -> str:
        """``"38 s, peak 1.31 GB"``: the memory is the kernel's and its child processes', together."""
        if self.peak_memory_mb is None:
            return f"{self.seconds:.0f} s"
        return f"{self.seconds:.0f} s, peak {self.peak_memory_mb / 1024:.2f} GB"


@dataclass(frozen=True)
class Job:
    """One notebook to run: under which settings, shown as what, saved where (if anywhere)."""

    path: Path
    settings: Settings
    label: str = ""  # default: the notebook's path
    save_to: Path | None = None
    env: Mapping[str, str] = field(default_factory=dict)  # for the kernel, beyond the settings' own


def run_jobs(jobs: Sequence[Job], timeout: int) -> list[RunOutcome]:
    """The run loop of ``course run``, ``benchmark``, ``sweep`` and ``site``: each job in a fresh kernel, in turn.

    Prints ``[3/9] 02_cnn/keras.ipynb ... ok (38 s, peak 1.31 GB)`` as each ends, and a failure's error
    on the line below; the kernel's environment is the job's settings (:meth:`Settings.child_env`).
    """
    outcomes = []
    for number, job in enumerate(jobs, 1):
        print(f"[{number}/{len(jobs)}] {job.label or config.shown_path(job.path)} ...", end=" ", flush=True)
        env = job.settings.child_env(**job.env)
        outcome = run_notebook(job.path, env=env, timeout=timeout, save_to=job.save_to)
        print(f"{'ok' if outcome.ok else 'FAILED'} ({outcome.cost})", flush=True)
        if not outcome.ok:
            print(f"    {outcome.error}", flush=True)
        outcomes.append(outcome)
    return outcomes


class ChildMemorySampler:
    """Samples the resident memory of this process's descendants, summed, and keeps the peak.

    A notebook's kernel is a child of the process that runs it, and the claims notebooks'
    workers are the kernel's children. mybinder.org limits their sum, so that is what is
    measured: every ``interval`` seconds, in a background thread. (A process's own
    ``ru_maxrss`` sees neither its children nor what runs at the same time.)
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> ChildMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.wait(self.interval):
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                except psutil.Error:  # it ended between the listing and the reading
                    pass
            self.peak_mb = max(self.peak_mb, total / 2**20)


def run_notebook(
    path: Path, env: dict[str, str] | None = None, timeout: int = 1800, save_to: Path | None = None
) -> RunOutcome:
    """Execute ``path`` top to bottom in a fresh kernel, in the notebook's own folder.

    ``env`` adds environment variables for the kernel (``COURSE_FAST`` and the like).
    A failure is returned, not raised, naming the cell and the error. The outcome also holds
    the peak memory of the kernel and its own child processes, together.
    """
    start = time.perf_counter()
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, nbformat.reader.NotJSONError, nbformat.ValidationError) as failure:
        return RunOutcome(path, 0.0, f"cannot read the notebook: {failure}")
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        # What libraries write straight to the process's stderr (TensorFlow's C++ start-up log) stays
        # out of the cells, like the kernel's own log below: it is not the learner's output.
        extra_arguments=["--IPKernelApp.capture_fd_output=False"],
    )
    error = None
    memory = ChildMemorySampler()
    try:
        with memory:
            # The kernel's own log (TensorFlow's start-up chatter) is not the learner's output.
            client.execute(stderr=subprocess.DEVNULL, env={**os.environ, **(env or {})})
    except CellExecutionError as failure:
        error = _describe_failure(notebook, failure)
    except (CellTimeoutError, DeadKernelError) as failure:
        error = f"{type(failure).__name__}: {str(failure).splitlines()[0] if str(failure) else ''}"
    if save_to is not None:
        nbformat.write(notebook, save_to)
    return RunOutcome(path, time.perf_counter() - start, error, memory.peak_mb or None)


def _describe_failure(notebook: nbformat.NotebookNode, failure: CellExecutionError) -> str:
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, 1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first_line = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                return f"code cell {number} ({first_line!r}): {output.ename}: {output.evalue}"
    return f"{failure.ename}: {failure.evalue}"


def clean(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Strip what git should not hold: outputs (except those nbval checks), counts, widget state."""
    notebook.metadata.pop("widgets", None)
    checked = 0
    for cell in notebook.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        if checks_output(cell):
            # nbval skips a checked cell with no execution count, so it keeps a stable one.
            checked += 1
            cell.execution_count = checked
            cell.outputs = [
                output for output in cell.outputs if output.output_type == "stream" and output.name == "stdout"
            ]
        else:
            cell.execution_count = None
            cell.outputs = []
    return notebook


def is_clean(notebook: nbformat.NotebookNode) -> bool:
    """True if :func:`clean` would change nothing."""
    import copy

    return clean(copy.deepcopy(notebook)) == notebook
