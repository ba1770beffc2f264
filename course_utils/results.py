"""One JSON record per notebook run, under ``results/``, with the run's test-set predictions beside it.

Reading and comparing the records is for ``course_lab.records``: the runtime only writes them.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from . import config, system
from .files import replaced_atomically
from .tasks import FRAMEWORKS, TASKS

if TYPE_CHECKING:
    from .data import Dataset

REQUIRED_KEYS = (
    "task",
    "framework",
    "test_accuracy",
    "train_seconds",
    "params",
    "epochs",
    "n_train",
    "n_test",
    "data_source",
    "framework_version",
)


def record_results(
    task: str,
    framework: str,
    test_accuracy: float,
    train_seconds: float,
    params: int,
    epochs: int,
    dataset: Dataset,
    framework_version: str,
    probabilities: object = None,
    **extra: object,
) -> Path:
    """Write one run's record to ``results/<task>_<framework>_<time>.json`` and return its path.

    ``extra`` keys (batch size, learning rate, seconds per epoch...) are stored as well.
    With ``probabilities`` (the test-set predictions, one row per test image), they are
    saved beside the record, for the widgets of ``notebooks/06_explore.ipynb``.
    """
    if task not in TASKS or framework not in FRAMEWORKS:
        raise ValueError(f"task must be one of {list(TASKS)} and framework one of {list(FRAMEWORKS)}.")
    # Microseconds keep two runs within one second apart, in the file names and in their order.
    now = datetime.now()
    record = {
        "task": task,
        "framework": framework,
        "test_accuracy": float(test_accuracy),
        "train_seconds": float(train_seconds),
        "params": int(params),
        "epochs": int(epochs),
        "n_train": dataset.n_train,
        "n_test": dataset.n_test,
        "data_source": dataset.source,
        "framework_version": str(framework_version),
        "fast_mode": config.fast_mode(),
        "recorded_at": now.isoformat(timespec="microseconds"),
        "peak_memory_mb": peak_memory_mb(),
        "seed": system.seed_in_use(),
        **extra,
    }
    folder = config.results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{task}_{framework}_{now:%Y%m%d-%H%M%S-%f}_{os.getpid()}.json"
    if probabilities is not None:  # saved first, so that a record never names a missing file
        record["predictions_file"] = save_predictions(target.with_suffix(".npz"), probabilities, dataset.y_test).name
    # numpy scalars (an extra such as learning_rate=np.float32(0.1)) are stored as plain numbers.
    with replaced_atomically(target, "w") as stream:
        json.dump(record, stream, indent=2, default=_plain)
    print(f"Recorded {task}/{framework} in {target.name}")
    return target


def _plain(value: object) -> object:
    """A numpy scalar or array as the Python number or list that JSON can hold."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"a record cannot hold {type(value).__name__} values: pass numbers or strings.")


def peak_memory_mb() -> float | None:
    """Peak resident memory of this process (the notebook's kernel) so far, in MiB; None where unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)  # bytes on macOS, KiB on Linux


def save_predictions(path: Path, probabilities: object, labels: object) -> Path:
    """Save test-set probabilities ``(n, classes)`` and their labels ``(n,)`` to ``path`` (.npz), atomically."""
    import numpy as np

    probabilities = np.asarray(probabilities, dtype=np.float32)
    labels = np.asarray(labels)
    if probabilities.ndim != 2 or len(probabilities) != len(labels):
        raise ValueError(
            f"probabilities of shape {probabilities.shape} do not match {len(labels):,} labels: "
            "pass one row of class probabilities per test image."
        )
    with replaced_atomically(path) as stream:
        np.savez_compressed(stream, probabilities=probabilities, labels=labels)
    return path
