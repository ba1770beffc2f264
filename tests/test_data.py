"""Loading MNIST and Fashion-MNIST: the real IDX files, downloads from a local mirror, imports, and bad input.

The reference MNIST files live in ``shared/data/mnist/`` beside the repository (CI clones it
there); they are read in place, never copied into the project. The training images are there
only uncompressed, so the local mirror cannot serve them as the published ``.gz``: that is how the
download tests see what a learner sees when one file cannot be had, and why ``course data --from``
exists.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from course_utils import data
from course_utils.data import DataError

import numpy as np
import pytest
from local_mirror import NOT_FOUND, LocalMirror, Reply

from course_tools import data_import

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
        pytest.skip(
            f"needs the reference MNIST files in {SHARED_MNIST}, outside the repository; "
            "the other data tests run without them"
        )
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


def use_mirrors(
    monkeypatch: pytest.MonkeyPatch, *mirrors: str, files: dict[str, data.RemoteFile] = data.MNIST.files
) -> None:
    """Point the loader's MNIST at ``mirrors`` (and, if given, other ``files``)."""
    monkeypatch.setitem(data.SPECS, "mnist", replace(data.MNIST, files=files, mirrors=mirrors))


def standin_training_files(mirror: LocalMirror) -> dict[str, data.RemoteFile]:
    """MNIST's files, with the test files served and expected under the training files' names.

    The training images' ``.gz`` is not in shared/; with these, a whole download can succeed offline.
    The stand-ins are expected to have the test files' checksums, of the ``.gz`` and of its contents.
    """
    files = dict(data.MNIST.files)
    for key, test_file in (("train_images", TEST_IMAGES), ("train_labels", TEST_LABELS)):
        files[key] = replace(
            files[key], algorithm=test_file.algorithm, digest=test_file.digest, content_sha256=test_file.content_sha256
        )
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
    """``folder`` holds exactly these files, uncompressed, each with the sha256 of its contents.

    Nothing else is there: no ``.gz`` and no ``.part`` file.
    """
    assert folder_contents(folder) == sorted(remote.plain_name for remote in remotes)
    for remote in remotes:
        with open(folder / remote.plain_name, "rb") as stream:
            assert stream.read(2) != data.GZIP_MAGIC, f"{remote.plain_name} is cached compressed"
        assert data.file_digest(folder / remote.plain_name, "sha256") == remote.content_sha256


def stderr_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.splitlines()


def idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(shape)}I", magic, *shape) + payload


# --- the real files --------------------------------------------------------------------


@pytest.mark.parametrize(
    "remote, shape",
    [
        (TEST_IMAGES, (10_000, 28, 28)),
        (TEST_LABELS, (10_000,)),
        (TRAIN_LABELS, (60_000,)),
        (TRAIN_IMAGES, (60_000, 28, 28)),
    ],
    ids=["test images", "test labels", "train labels", "train images (uncompressed)"],
)
def test_real_mnist_files_parse(shared_mnist: Path, remote: data.RemoteFile, shape: tuple[int, ...]) -> None:
    array = data.read_idx(data_import.find_local_copy(remote, shared_mnist))
    assert array.shape == shape
    assert array.dtype == np.uint8
    if len(shape) == 1:
        assert set(np.unique(array)) == set(range(10))
    else:
        assert array.max() == 255 and array.min() == 0


def test_published_checksums_match_the_loader(shared_mnist: Path) -> None:
    readme = (SHARED_DATA / "README.md").read_text()
    published = dict(re.findall(r"^\| (\S+\.gz) \|[^|]+\|[^|]+\| ([0-9a-f]{64}) \|", readme, flags=re.MULTILINE))
    published[TRAIN_IMAGES.name] = re.search(
        r"`train-images-idx3-ubyte\.gz`.*?sha256 `([0-9a-f]{64})`", readme, flags=re.DOTALL
    ).group(1)
    assert published == {remote.name: remote.digest for remote in data.MNIST.files.values()}
    assert all(remote.algorithm == "sha256" for remote in data.MNIST.files.values())
    for remote in (TEST_IMAGES, TEST_LABELS, TRAIN_LABELS):
        assert data.file_digest(shared_mnist / remote.name, "sha256") == remote.digest
    # The cache and local copies are checked by their contents: "sha256 of the uncompressed contents of all four files".
    contents = dict(re.findall(r"^- (\S+-ubyte): ([0-9a-f]{64})$", readme, flags=re.MULTILINE))
    assert contents == {remote.plain_name: remote.content_sha256 for remote in data.MNIST.files.values()}
    # The md5 values of the uncompressed files that MNIST loaders publish tie those to the genuine files.
    md5_line = re.search(
        r"^md5 of the uncompressed contents \(the published values\):(.*?)\.$", readme, flags=re.MULTILINE | re.DOTALL
    ).group(1)
    published_md5 = dict(re.findall(r"([a-z]+ [a-z]+)\s+([0-9a-f]{32})", md5_line))
    named = {
        "train images": TRAIN_IMAGES,
        "train labels": TRAIN_LABELS,
        "test images": TEST_IMAGES,
        "test labels": TEST_LABELS,
    }
    assert sorted(published_md5) == sorted(named)
    for what, remote in named.items():
        raw = data.read_contents(data_import.find_local_copy(remote, shared_mnist))
        assert hashlib.sha256(raw).hexdigest() == remote.content_sha256
        assert hashlib.md5(raw).hexdigest() == published_md5[what]


# --- downloads -------------------------------------------------------------------------


def test_download_verifies_caches_and_loads(mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = standin_training_files(mirror)
    use_mirrors(monkeypatch, mirror.url, files=files)
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    assert (dataset.n_train, dataset.n_test) == (10_000, 10_000)
    np.testing.assert_array_equal(dataset.x_test, data.read_idx(mirror.folder / TEST_IMAGES.name))
    np.testing.assert_array_equal(dataset.y_test, data.read_idx(mirror.folder / TEST_LABELS.name))
    assert sorted(mirror.requests) == sorted(remote.name for remote in files.values())
    assert_verified(cache, *files.values())  # unpacked: the downloaded .gz files are not kept

    mirror.requests.clear()
    again = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert mirror.requests == [], "a second load must read the cache, not download again"
    np.testing.assert_array_equal(again.x_train, dataset.x_train)


def test_a_missing_file_falls_back_to_the_sample_with_one_line(
    mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
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


def test_several_failures_still_fall_back_in_one_line(
    mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, mirror.url)
    mirror.replies[TEST_LABELS.name] = Reply(500, b"oops", "text/plain")
    assert data.load_dataset("mnist", fast=False).source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert "HTTP 404" in lines[0] and "HTTP 500" in lines[0]
    assert_verified(cache, TEST_IMAGES, TRAIN_LABELS)


def test_a_missing_file_raises_without_the_sample(
    mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
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
    "cut-off transfer": (
        lambda real: Reply(body=real[: len(real) // 2], claimed_length=len(real)),
        r"the transfer stopped after 2,271 of 4,542 bytes; try again",
    ),
    "web page": (
        lambda real: Reply(body=b"\n<!DOCTYPE html><html><body>Please sign in</body></html>", content_type="text/html"),
        r"the server sent a web page instead of the file",
    ),
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
    # download_file fetches the published .gz and checks its published checksum; ensure_files unpacks it.
    assert folder_contents(cache) == [TEST_LABELS.name]
    assert data.file_digest(cache / TEST_LABELS.name, "sha256") == TEST_LABELS.digest


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
    mirror: LocalMirror, unwritable_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(unwritable_data_dir))
    use_mirrors(monkeypatch, mirror.url)
    with pytest.raises(DataError, match=r"cannot write to the data folder .*Set COURSE_DATA_DIR"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert data.load_dataset("mnist", fast=False).source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and "COURSE_DATA_DIR" in lines[0], lines
    assert mirror.requests == []


CORRUPT_CACHED = {  # the name it is cached under, and the line that says it is replaced
    "uncompressed": (
        TEST_LABELS.plain_name,
        "does not hold the expected test labels (the sha256 of its contents differs); removing it so it is downloaded "
        "again",
    ),
    "a .gz an earlier version cached": (
        TEST_LABELS.name,
        "cached by an earlier version of the course, is damaged or not the test labels; removing it so it is "
        "downloaded again",
    ),
}


@pytest.mark.parametrize("case", CORRUPT_CACHED)
def test_a_corrupt_cached_file_is_replaced(
    case: str, mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    name, message = CORRUPT_CACHED[case]
    files = standin_training_files(mirror)
    use_mirrors(monkeypatch, mirror.url, files=files)
    cache.mkdir(parents=True)
    (cache / name).write_bytes(b"not the labels")
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    assert message in capsys.readouterr().err
    assert TEST_LABELS.name in mirror.requests
    assert_verified(cache, *files.values())


@pytest.mark.parametrize("name", [TEST_LABELS.plain_name, TEST_LABELS.name], ids=["uncompressed", "a leftover .gz"])
def test_offline_a_corrupt_cached_file_is_removed_and_one_file_is_tried(
    name: str, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mirrors(monkeypatch, closed_port_url(), closed_port_url())
    cache.mkdir(parents=True)
    (cache / name).write_bytes(b"not the labels")
    with pytest.raises(DataError, match="no connection") as failure:
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert folder_contents(cache) == []
    # With no mirror reachable, the other files would only wait for the same timeouts.
    assert str(failure.value).count("could not download") == 1


def test_a_truncated_gz_on_disk_is_a_clear_error(shared_mnist: Path, tmp_path: Path) -> None:
    real = (shared_mnist / TEST_LABELS.name).read_bytes()
    damaged = tmp_path / TEST_LABELS.name
    damaged.write_bytes(real[: len(real) // 2])
    with pytest.raises(
        DataError,
        match=r"t10k-labels-idx1-ubyte\.gz is damaged or unreadable \(.+\)\. "
        r"Delete it and load again",
    ):
        data.read_idx(damaged)


# --- IDX parsing on crafted bytes ------------------------------------------------------


def test_parse_idx_reads_crafted_files() -> None:
    labels = data.parse_idx(idx_bytes(data.IDX_LABELS_MAGIC, (3,), bytes([7, 0, 9])))
    np.testing.assert_array_equal(labels, np.array([7, 0, 9], dtype=np.uint8))
    images = data.parse_idx(idx_bytes(data.IDX_IMAGES_MAGIC, (2, 1, 3), bytes(range(6))))
    assert images.shape == (2, 1, 3) and images[1, 0, 2] == 5


@pytest.mark.parametrize(
    "raw, message",
    [
        (idx_bytes(0x00000D01, (3,), b"\0\0\0" * 4), r"not an IDX file of unsigned bytes \(magic number 0x00000d01\)"),
        (b"\x1f\x8b\x08\x00", r"too short to be an IDX file \(4 bytes\)"),
        (idx_bytes(data.IDX_LABELS_MAGIC, (3,), b"\0\0"), r"holds 10 bytes, but its header \(3,\) says 11"),
        (idx_bytes(data.IDX_IMAGES_MAGIC, (2, 28, 28), bytes(784)), r"header \(2, 28, 28\) says 1584"),
    ],
    ids=["wrong magic", "too short", "labels cut short", "images cut short"],
)
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
    broken.write_bytes(gzip.compress(b"not an npz") if damage == "not an archive" else real[: len(real) // 2])
    with pytest.raises(DataError, match=r"missing or damaged .*git checkout data/mnist_sample\.npz"):
        data.load_sample(broken)


def test_course_data_offline_says_what_to_do_and_leaves_no_empty_folder(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from course_tools import cli

    use_mirrors(monkeypatch, closed_port_url())
    assert cli.main(["data"]) == 1
    message = capsys.readouterr().err
    assert message.startswith("error: could not download") and "Traceback" not in message
    assert "bundled sample" in message and str(cache) in message and "COURSE_DATA_DIR" in message
    assert not cache.exists(), "a failed `course data` leaves no empty folder behind"


def test_an_unreadable_cached_file_is_a_clear_error_and_falls_back(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, closed_port_url())  # nothing may be downloaded, here or from the internet
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.plain_name).write_bytes(b"someone else's file")

    def unreadable(path: Path, algorithm: str) -> str:  # chmod does not bind for root, so say it directly
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(data, "file_digest", unreadable)
    with pytest.raises(DataError, match="cannot read .*COURSE_DATA_DIR"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert data.load_dataset("mnist", fast=False).source == "sample"


# --- course data --from: local copies, checked by their contents --------------------------


def link(folder: Path, name: str, target: Path) -> Path:
    """``folder/name`` as a symbolic link to ``target``: the real files are read in place, never copied."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).symlink_to(target)
    return folder / name


def write(folder: Path, name: str, raw: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(raw)
    return folder / name


@pytest.fixture
def usb(shared_mnist: Path, tmp_path: Path) -> Path:
    """A folder like a USB stick's, holding the four real files as shared/ has them (links to them)."""
    folder = tmp_path / "usb"
    for remote in data.MNIST.files.values():
        original = data_import.find_local_copy(remote, shared_mnist)
        link(folder, original.name, original)
    return folder


def test_course_data_from_the_shared_folder_imports_the_full_mnist(
    shared_mnist: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, closed_port_url())  # a download would fail: the import must need none
    assert cli_main("data", "--from", str(shared_mnist)) == 0
    out = capsys.readouterr()
    assert out.err == "" and f"imported from {shared_mnist}" in out.out and str(cache) in out.out
    assert_verified(cache, *data.MNIST.files.values())
    assert data.find_on_disk(data.MNIST) == cache, "the welcome notebook's report must see the imported files"

    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert (dataset.source, dataset.n_train, dataset.n_test) == ("mnist", 60_000, 10_000)
    assert class_counts(dataset.y_train) == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    np.testing.assert_array_equal(dataset.y_test, data.read_idx(shared_mnist / TEST_LABELS.name))
    assert capsys.readouterr().err == ""


def test_import_files_takes_the_dotted_names_compressed_or_not(shared_mnist: Path, tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "from-a-colleague"
    link(folder, "train-images.idx3-ubyte", shared_mnist / TRAIN_IMAGES.plain_name)
    link(folder, "train-labels.idx1-ubyte.gz", shared_mnist / TRAIN_LABELS.name)
    write(folder, "t10k-images.idx3-ubyte", data.read_contents(shared_mnist / TEST_IMAGES.name))
    # Compressed under an uncompressed name: the gzip header decides, not the name.
    link(folder, "t10k-labels.idx1-ubyte", shared_mnist / TEST_LABELS.name)
    paths = data_import.import_files(data.MNIST, folder)
    assert paths == {key: cache / remote.plain_name for key, remote in data.MNIST.files.items()}
    assert_verified(cache, *data.MNIST.files.values())
    assert sorted(os.listdir(folder)) == [
        "t10k-images.idx3-ubyte",
        "t10k-labels.idx1-ubyte",
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte.gz",
    ], "source untouched"


def fashion_test_labels() -> Path:
    if not FASHION_DIR.is_dir():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    return FASHION_DIR / data.FASHION_MNIST.files["test_labels"].name


WRONG_FILES = {  # which MNIST file is replaced, by what, and the shape the message reports
    "MNIST's test labels as its training labels": (TRAIN_LABELS, lambda shared: shared / TEST_LABELS.name, (10_000,)),
    "Fashion-MNIST's test labels as MNIST's": (TEST_LABELS, lambda shared: fashion_test_labels(), (10_000,)),
}


@pytest.mark.parametrize("case", WRONG_FILES)
def test_course_data_from_refuses_a_wrong_file_and_keeps_the_others(
    case: str, usb: Path, shared_mnist: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    remote, impostor, shape = WRONG_FILES[case]
    (usb / remote.name).unlink()
    wrong = link(usb, remote.name, impostor(shared_mnist))
    assert cli_main("data", "--from", str(usb)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(
        f"error: {wrong} is an IDX file of shape {shape}, but not the {remote.description} "
        f"({remote.plain_name}): the sha256 of its contents is "
    ), err
    assert f"expected {remote.content_sha256}. It is damaged, or another dataset's file: copy the original again" in err
    assert "Nothing broken was kept" in err and "--from FOLDER" in err
    assert_verified(cache, *(other for other in data.MNIST.files.values() if other != remote))


def cut_gz(shared: Path, folder: Path) -> Path:
    real = (shared / TEST_LABELS.name).read_bytes()
    return write(folder, TEST_LABELS.name, real[: len(real) // 2])


def cut_plain(shared: Path, folder: Path) -> Path:
    return write(folder, TEST_LABELS.plain_name, data.read_contents(shared / TEST_LABELS.name)[:5_000])


def text_file(shared: Path, folder: Path) -> Path:
    return write(folder, TEST_LABELS.name, b"These are the test labels, I promise.\n")


def missing(shared: Path, folder: Path) -> Path:
    return folder


SHOULD_BE = r"It should be the test labels \(t10k-labels-idx1-ubyte\); copy it again"
DAMAGED_COPIES = {  # how the test labels are spoilt, and what the message says after the file's path
    "cut-off .gz": (
        cut_gz,
        rf" is damaged or unreadable \(Compressed file ended before the end-of-stream marker was "
        rf"reached\)\. {SHOULD_BE} from where it came from\.",
    ),
    "cut-off uncompressed": (cut_plain, rf" holds 5000 bytes, but its header \(10000,\) says 10008\. {SHOULD_BE}\."),
    "not an IDX file": (
        text_file,
        rf" is not an IDX file of unsigned bytes \(magic number 0x54686573\)\. {SHOULD_BE}\.",
    ),
    "missing": (
        missing,
        r" has no file for the test labels: expected one of t10k-labels-idx1-ubyte\.gz, "
        r"t10k-labels-idx1-ubyte, t10k-labels\.idx1-ubyte\.gz, t10k-labels\.idx1-ubyte\. "
        r"Copy it there under one of these names\.",
    ),
}


@pytest.mark.parametrize("case", DAMAGED_COPIES)
def test_import_files_names_a_damaged_or_missing_file(case: str, usb: Path, shared_mnist: Path, cache: Path) -> None:
    spoil, message = DAMAGED_COPIES[case]
    (usb / TEST_LABELS.name).unlink()
    named = spoil(shared_mnist, usb)
    with pytest.raises(DataError) as failure:
        data_import.import_files(data.MNIST, usb)
    assert re.fullmatch(re.escape(str(named)) + message, str(failure.value)), str(failure.value)
    assert_verified(cache, TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES)


def test_course_data_from_lists_every_problem_one_per_line(
    usb: Path, shared_mnist: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (usb / TEST_LABELS.name).unlink()
    (usb / TRAIN_LABELS.name).unlink()
    link(usb, TRAIN_LABELS.name, shared_mnist / TEST_LABELS.name)
    assert cli_main("data", "--from", str(usb)) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(
        f"error: {usb / TRAIN_LABELS.name} is an IDX file of shape (10000,), but not the training labels"
    ), lines
    assert lines[1].startswith(f"{usb} has no file for the test labels: expected one of "), lines
    assert lines[2] == "" and lines[3].startswith("Nothing broken was kept"), lines
    assert_verified(cache, TRAIN_IMAGES, TEST_IMAGES)


def test_nothing_imported_leaves_no_empty_folder(tmp_path: Path, cache: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"has no file for the training images") as failure:
        data_import.import_files(data.MNIST, empty)
    assert len(str(failure.value).splitlines()) == 4
    assert not cache.exists()


@pytest.mark.parametrize("kind", ["a file", "nothing"])
def test_course_data_from_a_path_that_is_not_a_folder_says_so(
    kind: str, tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / TRAIN_IMAGES.name
    if kind == "a file":
        path.write_bytes(b"")
    assert cli_main("data", "--from", str(path)) == 1
    err = capsys.readouterr().err
    expected = (
        f"error: {path} is a file, not a folder. Give the folder that holds the four IDX files, such as {tmp_path}."
        if kind == "a file"
        else f"error: {path} does not exist. Give the folder that holds the four IDX files."
    )
    assert err.startswith(expected + "\n") and "Traceback" not in err, err
    assert not cache.exists()


def test_gz_files_an_earlier_version_cached_are_unpacked_not_downloaded(
    shared_mnist: Path, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, closed_port_url())  # offline: a download would fail
    cache.mkdir(parents=True)
    for remote in (TEST_IMAGES, TEST_LABELS, TRAIN_LABELS):  # as an earlier version of the course cached them
        (cache / remote.name).write_bytes((shared_mnist / remote.name).read_bytes())
    link(cache, TRAIN_IMAGES.plain_name, shared_mnist / TRAIN_IMAGES.plain_name)
    assert data.find_on_disk(data.MNIST) == cache, "an old cache counts as on disk for the welcome notebook"
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert (dataset.source, dataset.n_train, dataset.n_test) == ("mnist", 60_000, 10_000)
    assert capsys.readouterr().err == ""
    assert_verified(cache, *data.MNIST.files.values())  # the .gz files are gone


def test_offline_a_leftover_gz_is_still_unpacked(
    shared_mnist: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mirrors(monkeypatch, closed_port_url())
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.name).write_bytes((shared_mnist / TEST_LABELS.name).read_bytes())
    with pytest.raises(DataError, match=rf"could not download {TRAIN_IMAGES.name} .*no connection"):
        data.ensure_files(data.SPECS["mnist"])
    assert_verified(cache, TEST_LABELS)


def test_course_data_from_the_fashion_mnist_package_imports_it(
    tmp_path: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if not FASHION_DIR.is_dir():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    assert cli_main("data", "--dataset", "fashion_mnist", "--from", str(FASHION_DIR)) == 0
    assert capsys.readouterr().err == ""
    assert_verified(tmp_path / "data" / "fashion_mnist", *data.FASHION_MNIST.files.values())
    assert folder_contents(cache) == [], "Fashion-MNIST goes to its own folder"


def cli_main(*argv: str) -> int:
    from course_tools import cli

    return cli.main(list(argv))


def test_course_data_from_the_parent_folder_points_at_the_dataset_folder(
    shared_mnist: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from course_tools import cli

    assert cli.main(["data", "--from", str(shared_mnist.parent)]) == 1
    err = capsys.readouterr().err
    assert f"give that one, `--from {shared_mnist}`" in err and "Traceback" not in err
    assert "bundled sample" in err, "with an empty cache, the learner is told what the notebooks fall back to"


def test_a_failed_import_says_when_the_cache_is_already_complete(
    shared_mnist: Path, cache: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from course_tools import cli

    assert cli.main(["data", "--from", str(shared_mnist)]) == 0
    assert cli.main(["data", "--from", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert "already in the cache is complete and verified" in err and "bundled sample" not in err
