"""What the claims experiments share: the CNN's settings, the data, statistics, and running workers.

Framework-free: the report modules and the framework workers both import it.
"""

from __future__ import annotations

import importlib.util
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from course_utils import config, system
from course_utils.checks import CheckFailed
from course_utils.data import load_dataset
from course_utils.tasks import TASKS

import numpy as np

import course_models

from .workers import WorkerFailed, run_worker

# The CNN the experiments train is the task notebooks' own: the module `course export` makes of each
# CNN notebook's cells tagged export (its hyperparameters, model and training step).
CNN_MODULES = {framework: f"cnn_{framework}" for framework in ("keras", "tensorflow", "pytorch")}
SEED = 42  # the seed the task notebooks pass to course.setup
CNN_PARAMS = TASKS["cnn"].params["keras"]  # 34,826 in every framework
# Within this factor, two speeds count as the same: runs on a busy machine vary more than that.
SAME_SPEED = 1.15
# Largest difference between a model's outputs before export and after reloading it.
EXPORT_TOLERANCE = 1e-4

# The worker modules, one per framework, that hold the CNN and run the experiments.
KERAS, TENSORFLOW, PYTORCH = (f"{__package__}.{name}_cnn" for name in ("keras", "tensorflow", "pytorch"))
# Each framework's CNN worker, with the environment it runs in: (name, module, env).
CNN_WORKERS = (
    ("keras", KERAS, {"KERAS_BACKEND": "tensorflow"}),
    ("tensorflow", TENSORFLOW, {}),
    ("pytorch", PYTORCH, {}),
)


def notebook_cnn(framework: str) -> dict:
    """A fresh run of the CNN notebook's exported cells: their names (``model``, ``train_step``...), as the notebook
    has them after those cells.

    The cells run from their module, ``course_models.cnn_<framework>``, a real file: tracebacks show its
    lines and ``torch.jit.script`` reads its source. The dict is the module's own namespace, so that
    rebinding ``model`` in it changes the model that ``train_step`` calls.
    """
    return vars(course_models.fresh(CNN_MODULES[framework]))


# The CNN's batch size, read from the Keras notebook's module without importing Keras: the same in all three.
BATCH_SIZE = course_models.constants(CNN_MODULES["keras"])["BATCH_SIZE"]


@dataclass(frozen=True)
class Spread:
    """The median of repeated measurements, with their minimum and maximum."""

    median: float
    low: float
    high: float
    count: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        values = [float(value) for value in values]
        if not values or not all(math.isfinite(value) for value in values):
            raise ValueError(f"need at least one finite measurement, got {values}.")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def __str__(self) -> str:
        if self.count == 1:
            return f"{self.median:,.0f}"
        return f"{self.median:,.0f} ({self.low:,.0f}–{self.high:,.0f})"


def ratio_phrase(ratio: float) -> str:
    """``1.4`` as "1.4× faster", ``0.5`` as "2.0× slower", and near 1 as "about as fast"."""
    if 1 / SAME_SPEED <= ratio <= SAME_SPEED:
        return "about as fast"
    return f"{ratio:.1f}× faster" if ratio > 1 else f"{1 / ratio:.1f}× slower"


@dataclass(frozen=True)
class ImageData:
    """Images scaled to 0..1 as float32 with a channel axis, and int64 labels."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_test(self) -> int:
        return len(self.y_test)


def epoch_seconds(train_epoch: Callable[[object], object], batches: object, count: int) -> list[float]:
    """Wall-clock seconds of ``count`` passes of ``train_epoch`` over ``batches``."""
    seconds = []
    for _ in range(count):
        start = time.perf_counter()
        train_epoch(batches)
        seconds.append(time.perf_counter() - start)
    return seconds


def timed(run: Callable[[], object], repeats: int = 5) -> list[float]:
    """Wall seconds of ``run``, repeated, after one warm-up run. ``run`` must have done its work when it returns
    (return a NumPy value, not a framework's tensor that is still being computed)."""
    run()
    return epoch_seconds(lambda _: run(), None, repeats)


def image_data(channels_first: bool = False, n_train: int | None = None) -> ImageData:
    """The course's dataset for the CNN: ``(n, 28, 28, 1)``, or ``(n, 1, 28, 28)`` for PyTorch."""
    data = load_dataset()
    return ImageData(
        _scaled(data.x_train[:n_train], channels_first),
        data.y_train[:n_train].astype("int64"),
        _scaled(data.x_test, channels_first),
        data.y_test.astype("int64"),
        data.source,
    )


def fixed_batches(steps: int, channels_first: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of ``steps`` batches of training data in one fixed shuffled order.

    Every run that takes them sees the same global batches, so that one process and several
    replicas can be compared step by step.
    """
    data = image_data(channels_first, n_train=steps * BATCH_SIZE)
    order = np.random.default_rng(SEED).permutation(len(data.y_train))
    return data.x_train[order], data.y_train[order]


def scaled_test_images(channels_first: bool = False) -> np.ndarray:
    """The test images alone, as :func:`image_data` gives them: for a process that only predicts,
    the scaled training set would more than double its memory."""
    return _scaled(load_dataset().x_test, channels_first)


def _scaled(images: np.ndarray, channels_first: bool) -> np.ndarray:
    return np.expand_dims(images, 1 if channels_first else -1) / np.float32(255)


PREDICT_BATCH = 1000


def predict_in_batches(
    forward: Callable[[np.ndarray], object], x: np.ndarray, batch_size: int = PREDICT_BATCH
) -> np.ndarray:
    """``forward`` over ``x`` in batches, the outputs as one array.

    The test set at once would cost 865 MB for the first convolution's output alone, and
    Binder allows 2 GB.
    """
    return np.concatenate([np.asarray(forward(x[i : i + batch_size])) for i in range(0, len(x), batch_size)])


def compare_outputs(reference: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """How far ``other`` is from ``reference`` (logits, one row per image): largest difference, argmax agreement."""
    reference, other = np.asarray(reference), np.asarray(other)
    if reference.shape != other.shape:
        raise CheckFailed(f"outputs of shape {other.shape} cannot be compared with the original's {reference.shape}.")
    return {
        "max_abs_difference": float(np.max(np.abs(reference - other))),
        "same_prediction": float(np.mean(np.argmax(reference, 1) == np.argmax(other, 1))),
    }


def run_jobs(
    jobs: Sequence[tuple[str, str, str, dict[str, str], dict]], desc: str, parallel: bool = False
) -> tuple[dict, dict]:
    """Run ``(key, module, function, env, kwargs)`` jobs, each in a fresh process.

    One after another by default, so that no job's timing is disturbed by another's. With
    ``parallel``, for jobs whose time is not measured, two at once where the machine has the
    CPUs and the memory for it (see :func:`worker_slots`). Returns the results and the
    failures (their messages), both keyed by ``key``, in the order of ``jobs``.
    """
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    def run(job):
        key, module, function, env, kwargs = job
        try:
            return key, run_worker(module, function, env=env, **kwargs), None
        except WorkerFailed as error:
            return key, None, str(error)

    outcomes = {}
    with (
        ThreadPoolExecutor(worker_slots() if parallel else 1) as pool,
        tqdm(total=len(jobs), desc=desc, unit="process") as progress,
    ):
        for key, result, failure in pool.map(run, jobs):
            outcomes[key] = (result, failure)
            progress.update()
    results = {key: result for key, (result, failure) in outcomes.items() if failure is None}
    failures = {key: failure for key, (result, failure) in outcomes.items() if failure is not None}
    return results, failures


# A TensorFlow worker peaks near 1 GB; Binder allows 2 GB in all, enough for one beside the notebook.
MEMORY_PER_WORKER = 1536 * 2**20


def worker_slots() -> int:
    """How many worker processes may run at once: two if two CPUs and their memory are free, else one."""
    return 2 if system.usable_cpus() >= 2 and available_memory() >= 2 * MEMORY_PER_WORKER else 1


def available_memory() -> int:
    """Bytes of memory free for new processes: the system's, capped by this container's cgroup limit."""
    import psutil

    available = psutil.virtual_memory().available
    container = system.container_memory_free()
    return available if container is None else min(available, container)


def run_all(jobs: Sequence[tuple[str, str, str, dict[str, str], dict]], desc: str, parallel: bool = False) -> dict:
    """:func:`run_jobs`, for experiments that mean nothing with a part missing: any failure raises."""
    results, failures = run_jobs(jobs, desc, parallel)
    check_no_failures(failures)
    return results


def check_no_failures(failures: dict[str, str]) -> None:
    """Raise :class:`CheckFailed` with each failed job's message, if any failed."""
    if failures:
        details = "\n\n".join(f"{key}: {message}" for key, message in failures.items())
        raise CheckFailed(f"{len(failures)} experiment(s) failed:\n\n{details}")


def output_folder(kind: str, name: str) -> Path:
    """A fresh folder ``<WORK_DIR>/<kind>/claims-<name>`` (``runs`` and ``exports`` are git-ignored)."""
    import shutil

    folder = config.WORK_DIR / kind / f"claims-{name}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def source_of(module: str, name: str) -> str:
    """The source of a function or class of a course module, read without importing it."""
    import ast

    text = _module_path(module).read_text()
    for node in ast.parse(text).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == name:
            return ast.get_source_segment(text, node)
    raise ValueError(f"{module} has no function or class {name!r}.")


def source_between(module: str, first: str, last: str) -> str:
    """The lines of a course module from the first containing ``first`` to the next containing ``last``, dedented.

    Read from the file, without importing the module (nor its framework).
    """
    import textwrap

    lines = _module_path(module).read_text().splitlines()
    start = next((number for number, line in enumerate(lines) if first in line), None)
    end = next((number for number in range(start or 0, len(lines)) if last in lines[number]), None)
    if start is None or end is None:
        raise ValueError(f"{module} has no lines from {first!r} to {last!r}.")
    return textwrap.dedent("\n".join(lines[start : end + 1]))


def _module_path(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        raise ValueError(f"no module {module!r} to read.")
    return Path(spec.origin)


def installed_versions(packages: Sequence[str]) -> dict[str, str | None]:
    """The installed version of each package, or None, read from its metadata without importing it."""
    from importlib import metadata

    versions = {}
    for package in packages:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return versions
