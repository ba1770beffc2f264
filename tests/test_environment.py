"""The welcome notebook's environment report: a short labelled line per item, never broken mid-word."""

from __future__ import annotations

import dataclasses
import gzip
import re
from pathlib import Path

from course_utils import data

import pytest

from course_lab import environment

LABEL = re.compile(r"^(\S[^:]*): +\S")  # "MNIST:         cached in ..."


def words(lines: list[str]) -> list[str]:
    return " ".join(lines).split()


def test_a_long_value_wraps_between_words_under_its_own_column() -> None:
    value = "not usable (" + " ".join(f"word{i}" for i in range(60)) + ") and a /very/long/path/" + "x" * 120
    lines = environment.line("TensorFlow", value).splitlines()
    assert len(lines) > 1
    assert lines[0].startswith("TensorFlow:    not usable")
    assert all(
        line.startswith(" " * environment.LABEL_WIDTH) and line[environment.LABEL_WIDTH] != " " for line in lines[1:]
    )
    # Every word comes out whole: the path longer than a line too, on a line of its own.
    assert words(lines)[1:] == value.split()
    assert all(len(line) <= environment.WIDTH for line in lines if "x" * 120 not in line)


def test_each_framework_has_one_short_line_and_a_broken_one_says_how_to_reinstall() -> None:
    torch = environment.Probe("PyTorch", 1.42, {"torch": "2.13.0", "threads": 2, "torch_cuda": False})
    tf = environment.Probe(
        "TensorFlow and Keras",
        4.9,
        {"tensorflow": "2.21.0", "tensorflow_gpus": 1, "keras": "3.15.1", "keras_backend": "tensorflow", "threads": 1},
    )
    lines = torch.lines() + tf.lines()
    assert lines == [
        "PyTorch:       2.13.0, 2 CPU threads, no GPU (imported in 1.4 s)",
        "TensorFlow:    2.21.0, 1 CPU thread, 1 GPU (imported in 4.9 s)",
        "Keras:         3.15.1 on its tensorflow backend (TensorFlow's threads and GPUs)",
    ]
    broken = environment.Probe("PyTorch", 0.3, {}, "ImportError: libtorch_cpu.so: cannot open shared object file")
    (text,) = broken.lines()
    assert text.startswith("PyTorch:       not usable (ImportError:") and text.endswith(environment.REINSTALL)
    assert all(len(line) <= environment.WIDTH for line in text.splitlines())


def idx(path: Path, magic: int, count: int, gzipped: bool = False) -> None:
    """An IDX file's header alone: what the report reads to count the images."""
    header = magic.to_bytes(4, "big") + count.to_bytes(4, "big")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(header) if gzipped else header)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data folder of our own, and no system folder (Debian's Fashion-MNIST) that the report could find."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(
        data, "SPECS", {name: dataclasses.replace(spec, system_dirs=()) for name, spec in data.SPECS.items()}
    )
    return tmp_path


def test_a_dataset_on_disk_is_one_line_with_its_folder_and_image_counts(cache: Path) -> None:
    for key, remote in data.MNIST.files.items():
        magic = data.IDX_IMAGES_MAGIC if "images" in key else data.IDX_LABELS_MAGIC
        idx(cache / "mnist" / remote.plain_name, magic, 60_000 if key.startswith("train") else 10_000)
    system = cache / "usr-share-datasets-fashion-mnist"  # as Debian's package installs them: gzipped
    data.SPECS["fashion_mnist"] = dataclasses.replace(data.SPECS["fashion_mnist"], system_dirs=(system,))
    for key, remote in data.FASHION_MNIST.files.items():
        idx(system / remote.name, data.IDX_IMAGES_MAGIC, 1_234 if key.startswith("train") else 56, True)
    lines = environment.data_lines()
    # A long folder (pytest's) may wrap, between words.
    assert lines[0].split() == f"MNIST: cached in {cache / 'mnist'} (60,000 + 10,000 images)".split()
    assert lines[1].split() == f"Fashion-MNIST: installed in {system} (1,234 + 56 images)".split()
    assert lines[0].startswith("MNIST:         cached in /")
    assert lines[2] == "sample:        bundled, 4,000 + 1,000 images: fast mode's data, and the fallback offline"


def test_a_missing_dataset_says_how_to_get_it_in_one_line(cache: Path) -> None:
    (cache / "mnist").mkdir()  # an empty cache folder is not the dataset
    mnist, fashion, _sample = environment.data_lines()
    assert mnist == "MNIST:         not on disk; full mode downloads it, or run `course data` (`--from FOLDER` offline)"
    assert fashion.startswith("Fashion-MNIST: not on disk;") and "`course data --dataset fashion_mnist`" in fashion
    assert "\n" not in mnist + fashion


def test_an_unreadable_header_leaves_the_counts_out(cache: Path) -> None:
    for remote in data.MNIST.files.values():
        (cache / "mnist").mkdir(exist_ok=True)
        (cache / "mnist" / remote.plain_name).write_bytes(b"\x00")
    assert environment.data_lines()[0].split() == ["MNIST:", "cached", "in", str(cache / "mnist")]


def test_the_whole_report_is_short_labelled_lines(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = {
        "PyTorch": {"torch": "2.13.0+cpu", "threads": 2, "torch_cuda": True},
        "TensorFlow and Keras": {"tensorflow": "2.21.0", "keras": "3.15.1", "keras_backend": "jax", "threads": 2},
    }
    monkeypatch.setattr(environment, "probe", lambda name, modules: environment.Probe(name, 2.0, found[name]))
    for fast in ("1", "0"):
        monkeypatch.setenv("COURSE_FAST", fast)
        probes = environment.report()
        printed = capsys.readouterr().out.splitlines()
        assert [probe.name for probe in probes] == list(environment.PROBES)
        assert [LABEL.match(line).group(1) for line in printed] == [
            "Machine",
            "Mode",
            "MNIST",
            "Fashion-MNIST",
            "sample",
            "PyTorch",
            "TensorFlow",
            "Keras",
        ]
        assert max(map(len, printed)) <= environment.WIDTH
        assert printed[1].startswith("Mode:          fast (COURSE_FAST=1)" if fast == "1" else "Mode:          full:")
        assert re.fullmatch(
            r"Machine: +Python \S+ on \S+, \d+ CPU cores?( usable of \d+)?, [\d.]+ GB of memory.*", printed[0]
        )
