"""Result records: one complete JSON per run, read back as a table."""

from __future__ import annotations

import json
import os
from pathlib import Path

from course_utils import results
from course_utils.data import Dataset

import numpy as np
import pytest

from course_lab import records, tables


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty COURSE_RESULTS_DIR (made by record_results itself)."""
    folder = tmp_path / "results"
    monkeypatch.setenv("COURSE_RESULTS_DIR", str(folder))
    return folder


@pytest.fixture
def dataset() -> Dataset:
    return Dataset(
        np.zeros((40, 28, 28), np.uint8),
        np.arange(40, dtype=np.uint8) % 10,
        np.zeros((10, 28, 28), np.uint8),
        np.arange(10, dtype=np.uint8),
        source="sample",
    )


def record(
    dataset: Dataset, task: str = "mlp", framework: str = "keras", test_accuracy: float = 0.9, **extra: object
) -> Path:
    return results.record_results(
        task,
        framework,
        test_accuracy,
        train_seconds=2.5,
        params=101_770,
        epochs=3,
        dataset=dataset,
        framework_version="1.2.3",
        **extra,
    )


def write_json(folder: Path, name: str, content: str | bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def test_record_results_writes_a_complete_record(
    folder: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSE_FAST", "1")
    path = record(dataset, "cnn", "pytorch", np.float32(0.875), batch_size=128, learning_rate=np.float32(0.5))
    assert path.parent == folder and path.name.startswith("cnn_pytorch_") and path.suffix == ".json"
    assert os.listdir(folder) == [path.name], "the temporary file must be renamed, not left behind"
    saved = json.loads(path.read_text())
    assert set(results.REQUIRED_KEYS) <= set(saved)
    assert {key: saved[key] for key in results.REQUIRED_KEYS} == {
        "task": "cnn",
        "framework": "pytorch",
        "test_accuracy": 0.875,
        "train_seconds": 2.5,
        "params": 101_770,
        "epochs": 3,
        "n_train": 40,
        "n_test": 10,
        "data_source": "sample",
        "framework_version": "1.2.3",
    }
    assert saved["batch_size"] == 128 and saved["learning_rate"] == 0.5 and saved["fast_mode"] is True
    assert saved["peak_memory_mb"] > 0
    assert capsys.readouterr().out == f"Recorded cnn/pytorch in {path.name}\n"


def test_record_results_rejects_an_unknown_task(folder: Path, dataset: Dataset) -> None:
    with pytest.raises(ValueError, match="task must be one of"):
        record(dataset, task="gan")
    assert not folder.exists()


def test_two_runs_in_the_same_second_keep_two_records(folder: Path, dataset: Dataset) -> None:
    first, second = record(dataset, test_accuracy=0.8), record(dataset, test_accuracy=0.9)
    assert first != second
    table = records.load_results(folder, latest=False)
    assert table.test_accuracy.tolist() == [0.8, 0.9]


def test_load_results_keeps_the_newest_run_of_each_task_and_framework(folder: Path, dataset: Dataset) -> None:
    for framework, accuracy in [("pytorch", 0.91), ("keras", 0.80), ("keras", 0.93), ("tensorflow", 0.92)]:
        record(dataset, framework=framework, test_accuracy=accuracy)
    record(dataset, task="cnn", framework="keras", test_accuracy=0.97)
    everything = records.load_results(folder, latest=False)
    assert len(everything) == 5
    latest = records.load_results(folder)
    assert list(zip(latest.task, latest.framework, latest.test_accuracy)) == [
        ("mlp", "keras", 0.93),
        ("mlp", "tensorflow", 0.92),
        ("mlp", "pytorch", 0.91),
        ("cnn", "keras", 0.97),
    ]


def test_corrupt_and_partial_records_are_skipped(folder: Path, dataset: Dataset) -> None:
    kept = record(dataset, test_accuracy=0.9)
    complete = json.loads(kept.read_text())
    write_json(folder, "truncated.json", kept.read_text()[:40])
    write_json(folder, "missing_keys.json", json.dumps({key: complete[key] for key in ("task", "framework")}))
    write_json(folder, "a_list.json", "[1, 2, 3]")
    write_json(folder, "not_utf8.json", b"\xff\xfe{\x00")
    table = records.load_results(folder, latest=False)
    assert table.test_accuracy.tolist() == [0.9]


def test_an_empty_folder_gives_an_empty_table_and_says_so(tmp_path: Path) -> None:
    table = records.load_results(tmp_path)
    assert table.empty and list(table.columns) == list(results.REQUIRED_KEYS)
    assert tables.summary_table(table) == "No results yet: run a task notebook, or `course run`."


def test_summary_table_shows_each_framework_in_its_column(folder: Path, dataset: Dataset) -> None:
    record(dataset, framework="keras", test_accuracy=0.9123)
    record(dataset, framework="pytorch", test_accuracy=0.9055)
    lines = tables.summary_table(records.load_results(folder)).splitlines()
    assert lines[0].split() == ["task", "keras", "tensorflow", "pytorch"]
    assert lines[2].split() == ["mlp", "0.9123", "2.5", "—", "0.9055", "2.5"]
    assert lines[-1] == "data: sample"
    assert len(lines) == 4, "tasks with no record get no row"


def test_benchmark_table_shows_seconds_per_epoch(folder: Path, dataset: Dataset) -> None:
    record(dataset, framework="tensorflow", test_accuracy=0.95)
    lines = tables.benchmark_table(records.load_results(folder)).splitlines()
    assert lines[1].split()[:5] == ["mlp", "tensorflow", "0.8", "3", "0.9500"]
    assert lines[1].endswith("sample (40 train)")


def test_predictions_round_trip_and_a_damaged_file_is_skipped(folder: Path, dataset: Dataset) -> None:
    keras_probabilities = np.full((10, 10), 0.1, dtype=np.float32)
    record(dataset, framework="keras", probabilities=keras_probabilities)
    damaged = record(dataset, framework="pytorch", probabilities=keras_probabilities)
    npz = folder / json.loads(damaged.read_text())["predictions_file"]
    npz.write_bytes(npz.read_bytes()[:40])  # cut off: not a zip archive any more
    found = records.load_predictions(dataset, folder=folder)
    assert list(found) == ["mlp/keras"] and np.array_equal(found["mlp/keras"], keras_probabilities)


@pytest.fixture
def restored_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """setup() writes these for the process; monkeypatch puts back whatever this process had."""
    for variable in ("COURSE_SEED", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_records_store_the_seed_that_setup_used(
    folder: Path, dataset: Dataset, restored_environment: pytest.MonkeyPatch
) -> None:
    from course_utils import system

    restored_environment.setenv("COURSE_SEED", "7")
    system.setup(seed=42, threads=1)
    saved = json.loads(record(dataset).read_text())
    assert saved["seed"] == 7, "COURSE_SEED overrides the notebook's seed, and the record says so"


def test_sweep_table_gives_each_seed_and_the_worst_and_best(
    folder: Path, dataset: Dataset, restored_environment: pytest.MonkeyPatch
) -> None:
    from course_utils import system

    for seed, accuracy in ((1, 0.91), (2, 0.95)):
        restored_environment.setenv("COURSE_SEED", str(seed))
        system.setup(threads=1)
        record(dataset, test_accuracy=accuracy)
    lines = tables.sweep_table(records.load_results(folder, latest=False)).splitlines()
    row = next(line for line in lines if line.startswith("mlp"))
    assert row.split()[2:6] == ["0.9100", "0.9500", "0.9100", "0.9500"], row
    assert lines[-1] == "data: sample (40 train)"


def test_before_after_table_gives_the_speed_up(
    tmp_path: Path, dataset: Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, seconds in (("before", 6.0), ("after", 3.0)):
        monkeypatch.setenv("COURSE_RESULTS_DIR", str(tmp_path / name))
        results.record_results(
            "cnn",
            "pytorch",
            0.99,
            train_seconds=seconds,
            params=34_826,
            epochs=3,
            dataset=dataset,
            framework_version="2",
        )
    table = tables.before_after_table(
        records.load_results(tmp_path / "before"), records.load_results(tmp_path / "after")
    )
    row = table.splitlines()[1].split()
    assert row[:5] == ["cnn", "pytorch", "2.0", "1.0", "2.00×"], table
