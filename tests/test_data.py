"""Loading MNIST and Fashion-MNIST: the real IDX files, downloads from a local mirror, and bad input.

The reference MNIST files live in ``shared/data/mnist/`` beside the repository (CI clones it
there); they are read in place, never copied into the project. The training images are not
among them, which is also how the tests see what a learner sees when one file cannot be had.
"""

from __future__ import annotations

import gzip
import os
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from local_mirror import NOT_FOUND, LocalMirror, Reply

from course_utils import data
from course_utils.data import DataError

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SHARED_MNIST = SHARED_DATA / "mnist"
FASHION_DIR = data.FASHION_MNIST.system_dirs[0]
TEST_IMAGES = data.MNIST.files["test_images"]
TEST_LABELS = data.MNIST.files["test_labels"]
TRAIN_LABELS = data.MNIST.files["train_labels"]
TRAIN_IMAGES = data.MNIST.files["train_images"]


# --- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
def shared_mnist() -> Path:
    if not SHARED_MNIST.is_dir():
        # The maintainers' and CI's checkouts keep real MNIST files beside the repository, never in it.
        pytest.skip(f"needs the reference MNIST files in {SHARED_MNIST}, outside the repository; "
                    "the other data tests run without them")
    return SHARED_MNIST


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder (COURSE_DATA_DIR); returns the MNIST sub-folder the loader fills."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "mnist"


@pytest.fixture
def mirror(shared_mnist: Path) -> Iterator[LocalMirror]:
    with LocalMirror(shared_mnist) as server:
        yield server


def use_mirrors(monkeypatch: pytest.MonkeyPatch, *mirrors: str,
                files: dict[str, data.RemoteFile] = data.MNIST.files) -> None:
    """Point the loader's MNIST at ``mirrors`` (and, if given, other ``files``)."""
    monkeypatch.setitem(data.SPECS, "mnist", replace(data.MNIST, files=files, mirrors=mirrors))


def standin_training_files(mirror: LocalMirror) -> dict[str, data.RemoteFile]:
    """MNIST's files, with the test files served and expected under the training files' names.

    The training images are not in shared/; with these, a whole load can succeed offline.
    """
    files = dict(data.MNIST.files)
    for key, test_file in (("train_images", TEST_IMAGES), ("train_labels", TEST_LABELS)):
        files[key] = replace(test_file, name=files[key].name)
        mirror.replies[files[key].name] = Reply(body=(mirror.folder / test_file.name).read_bytes())
    return files


def closed_port_url() -> str:
    """The address of a port on 127.0.0.1 that nothing listens on: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def folder_contents(folder: Path) -> list[str]:
    """Every name in ``folder``, hidden ones (such as ``.part`` files) included."""
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def assert_verified(folder: Path, *remotes: data.RemoteFile) -> None:
    """``folder`` holds exactly these files, each matching its published checksum."""
    assert folder_contents(folder) == sorted(remote.name for remote in remotes)
    for remote in remotes:
        assert data.file_digest(folder / remote.name, remote.algorithm) == remote.digest


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(shape)}I", magic, *shape) + payload


# --- the real files --------------------------------------------------------------------


@pytest.mark.parametrize("remote, shape", [
    (TEST_IMAGES, (10_000, 28, 28)), (TEST_LABELS, (10_000,)), (TRAIN_LABELS, (60_000,)),
], ids=["test images", "test labels", "train labels"])
def test_real_mnist_files_parse(shared_mnist: Path, remote: data.RemoteFile, shape: tuple[int, ...]) -> None:
    array = data.read_idx(shared_mnist / remote.name)
    assert array.shape == shape
    assert array.dtype == np.uint8
    if len(shape) == 1:
        assert set(np.unique(array)) == set(range(10))
    else:
        assert array.max() == 255 and array.min() == 0


def test_published_checksums_match_the_loader(shared_mnist: Path) -> None:
    readme = (SHARED_DATA / "README.md").read_text()
    published = dict(re.findall(r"^\| (\S+\.gz) \|[^|]+\|[^|]+\| ([0-9a-f]{64}) \|", readme, flags=re.MULTILINE))
    published[TRAIN_IMAGES.name] = re.search(r"`train-images-idx3-ubyte\.gz`.*?sha256 `([0-9a-f]{64})`",
                                             readme, flags=re.DOTALL).group(1)
    assert published == {remote.name: remote.digest for remote in data.MNIST.files.values()}
    assert all(remote.algorithm == "sha256" for remote in data.MNIST.files.values())
    for remote in (TEST_IMAGES, TEST_LABELS, TRAIN_LABELS):
        assert data.file_digest(shared_mnist / remote.name, "sha256") == remote.digest


# --- downloads -------------------------------------------------------------------------


def test_download_verifies_caches_and_loads(mirror: LocalMirror, cache: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    files = standin_training_files(mirror)
    use_mirrors(monkeypatch, mirror.url, files=files)
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    assert (dataset.n_train, dataset.n_test) == (10_000, 10_000)
    np.testing.assert_array_equal(dataset.x_test, data.read_idx(mirror.folder / TEST_IMAGES.name))
    np.testing.assert_array_equal(dataset.y_test, data.read_idx(mirror.folder / TEST_LABELS.name))
    assert sorted(mirror.requests) == sorted(remote.name for remote in files.values())
    assert_verified(cache, *files.values())

    mirror.requests.clear()
    again = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert mirror.requests == [], "a second load must read the cache, not download again"
    np.testing.assert_array_equal(again.x_train, dataset.x_train)


def test_a_missing_file_falls_back_to_the_sample_with_one_line(
        mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    use_mirrors(monkeypatch, mirror.url)
    dataset = data.load_dataset("mnist", fast=False)
    assert dataset.source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert TRAIN_IMAGES.name in lines[0] and "HTTP 404" in lines[0]
    assert "course data" in lines[0] and str(cache) in lines[0], "the line must say how to get the full set"
    # The files that could be had were tried too, verified and kept for next time.
    assert sorted(mirror.requests) == sorted(remote.name for remote in data.MNIST.files.values())
    assert_verified(cache, TEST_IMAGES, TEST_LABELS, TRAIN_LABELS)


def test_a_missing_file_raises_without_the_sample(mirror: LocalMirror, cache: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    use_mirrors(monkeypatch, mirror.url)
    with pytest.raises(DataError, match=rf"could not download {re.escape(TRAIN_IMAGES.name)} .*HTTP 404"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert_verified(cache, TEST_IMAGES, TEST_LABELS, TRAIN_LABELS)


def flip_last_byte(real: bytes) -> Reply:
    return Reply(body=real[:-1] + bytes([real[-1] ^ 0xFF]))


MISMATCH = rf"sha256 is [0-9a-f]{{64}}, expected {TEST_LABELS.digest} \(damaged or different file\)"
BAD_REPLIES = {
    "wrong bytes": (flip_last_byte, MISMATCH),
    "truncated gz": (lambda real: Reply(body=real[: len(real) // 2]), MISMATCH),
    "cut-off transfer": (lambda real: Reply(body=real[: len(real) // 2], claimed_length=len(real)),
                         r"the transfer stopped after 2,271 of 4,542 bytes; try again"),
    "web page": (lambda real: Reply(body=b"\n<!DOCTYPE html><html><body>Please sign in</body></html>",
                                    content_type="text/html"), r"the server sent a web page instead of the file"),
    "HTTP 404": (lambda real: NOT_FOUND, r"HTTP 404 Not Found"),
    "HTTP 500": (lambda real: Reply(500, b"oops", "text/plain"), r"HTTP 500 Internal Server Error"),
}


@pytest.mark.parametrize("case", BAD_REPLIES)
def test_a_bad_download_is_a_clear_error_and_leaves_nothing(case: str, mirror: LocalMirror, cache: Path) -> None:
    make_reply, message = BAD_REPLIES[case]
    mirror.replies[TEST_LABELS.name] = make_reply((mirror.folder / TEST_LABELS.name).read_bytes())
    url = re.escape(mirror.url + TEST_LABELS.name)
    with pytest.raises(DataError, match=rf"could not download {TEST_LABELS.name} \({url}: {message}"):
        data.download_file(TEST_LABELS, (mirror.url,), cache / TEST_LABELS.name)
    assert folder_contents(cache) == []


def test_a_refused_connection_is_a_clear_error(cache: Path) -> None:
    with pytest.raises(DataError, match=r"could not download .*: no connection \(.*[Rr]efused"):
        data.download_file(TEST_LABELS, (closed_port_url(),), cache / TEST_LABELS.name)
    assert folder_contents(cache) == []


def test_the_next_mirror_is_tried_when_one_fails(mirror: LocalMirror, cache: Path) -> None:
    data.download_file(TEST_LABELS, (closed_port_url(), mirror.url), cache / TEST_LABELS.name)
    assert_verified(cache, TEST_LABELS)


@pytest.fixture
def unwritable_data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data folder that cannot be written: read-only, or under a regular file where chmod does not bind (root)."""
    locked = tmp_path / "read-only"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        (locked / "probe").touch()
    except PermissionError:
        yield locked
        locked.chmod(0o700)  # so that pytest can remove it
        return
    blocker = tmp_path / "a-file"
    blocker.write_text("a file, so no folder can be made under it")
    yield blocker / "data"


def test_an_unwritable_data_folder_says_to_set_course_data_dir(
        mirror: LocalMirror, unwritable_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(unwritable_data_dir))
    use_mirrors(monkeypatch, mirror.url)
    with pytest.raises(DataError, match=r"cannot write to the data folder .*Set COURSE_DATA_DIR"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert data.load_dataset("mnist", fast=False).source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and "COURSE_DATA_DIR" in lines[0], lines
    assert mirror.requests == []


def test_a_corrupt_cached_file_is_replaced(mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    files = standin_training_files(mirror)
    use_mirrors(monkeypatch, mirror.url, files=files)
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.name).write_bytes(b"not the labels")
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    assert "does not match its published checksum; removing it" in capsys.readouterr().err
    assert TEST_LABELS.name in mirror.requests
    assert_verified(cache, *files.values())


def test_offline_a_corrupt_cached_file_is_removed_and_one_file_is_tried(
        cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mirrors(monkeypatch, closed_port_url(), closed_port_url())
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.name).write_bytes(b"not the labels")
    with pytest.raises(DataError, match="no connection") as failure:
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert folder_contents(cache) == []
    # With no mirror reachable, the other files would only wait for the same timeouts.
    assert str(failure.value).count("could not download") == 1


def test_a_truncated_gz_on_disk_is_a_clear_error(shared_mnist: Path, tmp_path: Path) -> None:
    real = (shared_mnist / TEST_LABELS.name).read_bytes()
    damaged = tmp_path / TEST_LABELS.name
    damaged.write_bytes(real[: len(real) // 2])
    with pytest.raises(DataError, match=r"is damaged and cannot be read .*Delete it and load again"):
        data.read_idx(damaged)


# --- IDX parsing on crafted bytes ------------------------------------------------------


def test_parse_idx_reads_crafted_files() -> None:
    labels = data.parse_idx(idx_bytes(data.IDX_LABELS_MAGIC, (3,), bytes([7, 0, 9])))
    np.testing.assert_array_equal(labels, np.array([7, 0, 9], dtype=np.uint8))
    images = data.parse_idx(idx_bytes(data.IDX_IMAGES_MAGIC, (2, 1, 3), bytes(range(6))))
    assert images.shape == (2, 1, 3) and images[1, 0, 2] == 5


@pytest.mark.parametrize("raw, message", [
    (idx_bytes(0x00000D01, (3,), b"\0\0\0" * 4), r"not an IDX file of unsigned bytes \(magic number 0x00000d01\)"),
    (b"\x1f\x8b\x08\x00", r"too short to be an IDX file \(4 bytes\)"),
    (idx_bytes(data.IDX_LABELS_MAGIC, (3,), b"\0\0"), r"holds 10 bytes, but its header \(3,\) says 11"),
    (idx_bytes(data.IDX_IMAGES_MAGIC, (2, 28, 28), bytes(784)), r"header \(2, 28, 28\) says 1584"),
], ids=["wrong magic", "too short", "labels cut short", "images cut short"])
def test_parse_idx_rejects_bad_bytes(raw: bytes, message: str) -> None:
    with pytest.raises(DataError, match=message):
        data.parse_idx(raw)


def test_an_unknown_dataset_name_lists_the_known_ones() -> None:
    with pytest.raises(DataError, match="unknown dataset 'cifar10'; use one of mnist, fashion_mnist"):
        data.load_dataset("cifar10", fast=False)


# --- Fashion-MNIST and the bundled sample ----------------------------------------------


@pytest.fixture(scope="module")
def fashion_full() -> data.Dataset:
    if not FASHION_DIR.is_dir():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    return data.load_dataset("fashion_mnist", fast=False)


def class_counts(labels: np.ndarray) -> list[int]:
    return np.bincount(labels, minlength=10).tolist()


def test_fashion_mnist_loads_from_the_system_folder(fashion_full: data.Dataset) -> None:
    assert fashion_full.source == "fashion_mnist"
    assert fashion_full.x_train.shape == (60_000, 28, 28) and fashion_full.x_test.shape == (10_000, 28, 28)
    assert fashion_full.x_train.dtype == fashion_full.y_train.dtype == np.uint8
    assert class_counts(fashion_full.y_train) == [6000] * 10 and class_counts(fashion_full.y_test) == [1000] * 10


def test_fashion_mnist_fast_mode_is_a_stratified_subset(fashion_full: data.Dataset) -> None:
    fast = data.load_dataset("fashion_mnist", fast=True)
    assert (fast.source, fast.n_train, fast.n_test) == ("fashion_mnist", data.FAST_N_TRAIN, data.FAST_N_TEST)
    assert class_counts(fast.y_train) == [400] * 10 and class_counts(fast.y_test) == [100] * 10
    # The subset is real Fashion-MNIST test images with their own labels, not a reshuffle of labels.
    rows = {image.tobytes(): label for image, label in zip(fashion_full.x_test, fashion_full.y_test)}
    assert all(rows[image.tobytes()] == label for image, label in zip(fast.x_test, fast.y_test))


def test_the_bundled_sample_is_balanced_and_disjoint(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mirrors(monkeypatch, closed_port_url())  # fast mode must not try to download: it would fail here
    sample = data.load_dataset("mnist", fast=True, allow_sample=False)
    assert sample.source == "sample" and folder_contents(cache) == []
    assert sample.x_train.shape == (4000, 28, 28) and sample.x_test.shape == (1000, 28, 28)
    assert all(array.dtype == np.uint8 for array in (sample.x_train, sample.y_train, sample.x_test, sample.y_test))
    assert class_counts(sample.y_train) == [400] * 10 and class_counts(sample.y_test) == [100] * 10
    train_images = {image.tobytes() for image in sample.x_train}
    assert not any(image.tobytes() in train_images for image in sample.x_test)


@pytest.mark.parametrize("damage", ["not an archive", "cut off"])
def test_a_damaged_sample_says_how_to_restore_it(tmp_path: Path, damage: str) -> None:
    broken = tmp_path / "mnist_sample.npz"
    real = data.config.SAMPLE_PATH.read_bytes()
    broken.write_bytes(gzip.compress(b"not an npz") if damage == "not an archive" else real[:len(real) // 2])
    with pytest.raises(DataError, match=r"missing or damaged .*git checkout data/mnist_sample\.npz"):
        data.load_sample(broken)


def test_course_data_offline_says_what_to_do_and_leaves_no_empty_folder(
        cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from course_utils import cli

    use_mirrors(monkeypatch, closed_port_url())
    assert cli.main(["data"]) == 1
    message = capsys.readouterr().err
    assert message.startswith("error: could not download") and "Traceback" not in message
    assert "bundled sample" in message and str(cache) in message and "COURSE_DATA_DIR" in message
    assert not cache.exists(), "a failed `course data` leaves no empty folder behind"


def test_an_unreadable_cached_file_is_a_clear_error_and_falls_back(
        cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.name).write_bytes(b"someone else's file")

    def unreadable(path: Path, algorithm: str) -> str:  # chmod does not bind for root, so say it directly
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "file_digest", unreadable)
    with pytest.raises(DataError, match="cannot read .*COURSE_DATA_DIR"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert data.load_dataset("mnist", fast=False).source == "sample"
