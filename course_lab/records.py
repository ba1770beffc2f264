"""Reading the runs' records back: a table of every run, and the predictions saved beside them.

The notebooks write one JSON record per run with ``course_utils.record_results``; the compare
and explore notebooks and the ``course`` command read them here.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from course_utils import config
from course_utils.results import REQUIRED_KEYS
from course_utils.tasks import FRAMEWORKS, TASKS

if TYPE_CHECKING:
    from course_utils.data import Dataset

    import pandas as pd


def read_records(folder: Path | None = None) -> list[dict]:
    """Every complete record in the results folder, oldest first; unreadable files are skipped."""
    folder = folder or config.results_dir()
    records = []
    for path in sorted(folder.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):  # ValueError: not JSON, or not even UTF-8
            continue
        if isinstance(record, dict) and all(key in record for key in REQUIRED_KEYS):
            records.append(record)
    return sorted(records, key=lambda record: record.get("recorded_at", ""))


def load_results(folder: Path | None = None, latest: bool = True) -> pd.DataFrame:
    """All records as a table, one row per run; with ``latest``, only the newest run of each task and framework."""
    import pandas as pd

    table = pd.DataFrame(read_records(folder), columns=None)
    if table.empty:
        return pd.DataFrame(columns=list(REQUIRED_KEYS))
    if latest:
        table = table.drop_duplicates(["task", "framework"], keep="last")
    order = {name: i for i, name in enumerate(TASKS)} | {name: i for i, name in enumerate(FRAMEWORKS)}
    return table.sort_values(["task", "framework"], key=lambda column: column.map(order)).reset_index(drop=True)


def load_predictions(dataset: Dataset, task: str | None = None, folder: Path | None = None) -> dict[str, object]:
    """The newest saved test-set probabilities of each task and framework, keyed ``"task/framework"``.

    Only predictions made on ``dataset``'s test set (same source and labels) are returned,
    so that row ``i`` of each array belongs to ``dataset.x_test[i]``.
    """
    import numpy as np

    folder = folder or config.results_dir()
    found = {}
    for record in read_records(folder):
        if "predictions_file" not in record or (task and record["task"] != task):
            continue
        if record["data_source"] != dataset.source or record["n_test"] != dataset.n_test:
            continue
        try:
            with np.load(folder / record["predictions_file"]) as saved:
                probabilities, labels = saved["probabilities"], saved["labels"]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile):
            continue
        if np.array_equal(labels, dataset.y_test):
            found[f"{record['task']}/{record['framework']}"] = probabilities  # newer records replace older
    order = {f"{t}/{f}": (i, j) for i, t in enumerate(TASKS) for j, f in enumerate(FRAMEWORKS)}
    return dict(sorted(found.items(), key=lambda item: order[item[0]]))
