"""Loading MNIST and Fashion-MNIST: downloads from a local mirror, the cache, imports, bad input, and the real files.

The download, cache and import tests run on a ``source`` of four IDX files: ``made``, small files
that the tests write (valid IDX headers, a few images) with checksums they compute, in every clone;
and ``shared``, the reference MNIST in ``shared/data/mnist/`` beside the repository (CI clones it
there), read in place and never copied into the project, where that folder exists. The mirror is a
real HTTP server on 127.0.0.1 (``local_mirror.py``).
"""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass, replace
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
KEYS = ("train_images", "train_labels", "test_images", "test_labels")


# --- the sources: made here, or the real files ---------------------------------------------


def idx_bytes(magic: int, shape: tuple[int, ...], payload: bytes) -> bytes:
    return struct.pack(f">I{len(shape)}I", magic, *shape) + payload


@dataclass(frozen=True)
class Source:
    """MNIST's four files as a learner may have them, and the checksums the loader is to expect of them.

    ``folder`` holds a copy of each under one of its usual names (what ``course data --from`` reads);
    ``served`` holds each as the published ``.gz`` (what a mirror serves); ``files`` replaces
    ``data.MNIST.files`` while a test runs.
    """

    kind: str
    folder: Path
    served: Path
    files: dict[str, data.RemoteFile]

    @property
    def spec(self) -> data.DatasetSpec:
        return replace(data.MNIST, files=self.files)

    def contents(self, key: str) -> bytes:
        return data.read_contents(data_import.find_local_copy(self.files[key], self.folder))

    def array(self, key: str) -> np.ndarray:
        return data.parse_idx(self.contents(key))


def made_source(folder: Path) -> Source:
    """Four small IDX files, gzipped, each class in each split; their checksums computed, not published."""
    rng = np.random.default_rng(23)
    shapes = {"train_images": (30, 28, 28), "train_labels": (30,), "test_images": (20, 28, 28), "test_labels": (20,)}
    folder.mkdir()
    files = {}
    for key, shape in shapes.items():
        if key.endswith("labels"):
            magic, payload = data.IDX_LABELS_MAGIC, rng.permutation(np.resize(np.arange(10, dtype=np.uint8), shape))
        else:
            magic, payload = data.IDX_IMAGES_MAGIC, rng.integers(0, 256, shape, dtype=np.uint8)
        raw = idx_bytes(magic, shape, payload.tobytes())
        packed = gzip.compress(raw, mtime=0)
        remote = data.MNIST.files[key]
        (folder / remote.name).write_bytes(packed)
        files[key] = replace(
            remote,
            algorithm="sha256",
            digest=hashlib.sha256(packed).hexdigest(),
            content_sha256=hashlib.sha256(raw).hexdigest(),
        )
    return Source("made", folder, folder, files)


def shared_source(served: Path) -> Source:
    """The real MNIST as shared/ has it; the mirror serves its training images gzipped here.

    shared/ has those only uncompressed and gzip does not reproduce the published ``.gz``, so the
    mirror's copy is expected to have the checksum computed here; its contents' checksum is the real one.
    """
    if not SHARED_MNIST.is_dir():
        # The maintainers' and CI's checkouts keep real MNIST files beside the repository, never in it.
        pytest.skip(f"needs the reference MNIST files in {SHARED_MNIST}, outside the repository; 'made' runs without")
    served.mkdir()
    for remote in (TEST_IMAGES, TEST_LABELS, TRAIN_LABELS):
        (served / remote.name).symlink_to(SHARED_MNIST / remote.name)
    packed = gzip.compress((SHARED_MNIST / TRAIN_IMAGES.plain_name).read_bytes(), compresslevel=1, mtime=0)
    (served / TRAIN_IMAGES.name).write_bytes(packed)
    files = dict(data.MNIST.files, train_images=replace(TRAIN_IMAGES, digest=hashlib.sha256(packed).hexdigest()))
    return Source("shared", SHARED_MNIST, served, files)


@pytest.fixture(scope="module", params=["made", "shared"])
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Source:
    folder = tmp_path_factory.mktemp(request.param)
    return made_source(folder / "mnist") if request.param == "made" else shared_source(folder / "served")


# --- fixtures and helpers --------------------------------------------------------------


@pytest.fixture
def shared_mnist() -> Path:
    if not SHARED_MNIST.is_dir():
        pytest.skip(f"needs the reference MNIST files in {SHARED_MNIST}, outside the repository")
    return SHARED_MNIST


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder (COURSE_DATA_DIR); returns the MNIST sub-folder the loader fills."""
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "mnist"


@pytest.fixture
def mirror(source: Source) -> Iterator[LocalMirror]:
    with LocalMirror(source.served) as server:
        yield server


def use_mirrors(monkeypatch: pytest.MonkeyPatch, source: Source | None, *mirrors: str) -> data.DatasetSpec:
    """Point the loader's MNIST at ``source``'s files (None: the real ones) and at ``mirrors``."""
    spec = replace(source.spec if source else data.MNIST, mirrors=mirrors)
    monkeypatch.setitem(data.SPECS, "mnist", spec)
    return spec


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


def test_download_verifies_caches_and_loads(
    source: Source, mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mirrors(monkeypatch, source, mirror.url)
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    for key, array in zip(KEYS, (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)):
        np.testing.assert_array_equal(array, source.array(key))
    assert sorted(mirror.requests) == sorted(remote.name for remote in source.files.values())
    assert_verified(cache, *source.files.values())  # unpacked: the downloaded .gz files are not kept

    mirror.requests.clear()
    again = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert mirror.requests == [], "a second load must read the cache, not download again"
    np.testing.assert_array_equal(again.x_train, dataset.x_train)


def test_a_missing_file_falls_back_to_the_sample_with_one_line(
    source: Source,
    mirror: LocalMirror,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_mirrors(monkeypatch, source, mirror.url)
    mirror.replies[TRAIN_IMAGES.name] = NOT_FOUND
    dataset = data.load_dataset("mnist", fast=False)
    assert dataset.source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert TRAIN_IMAGES.name in lines[0] and "HTTP 404" in lines[0]
    assert "course data" in lines[0] and str(cache) in lines[0], "the line must say how to get the full set"
    # The files that could be had were tried too, verified and kept for next time.
    assert sorted(mirror.requests) == sorted(remote.name for remote in source.files.values())
    assert_verified(cache, *(source.files[key] for key in KEYS[1:]))


def test_several_failures_still_fall_back_in_one_line(
    source: Source,
    mirror: LocalMirror,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_mirrors(monkeypatch, source, mirror.url)
    mirror.replies[TRAIN_IMAGES.name] = NOT_FOUND
    mirror.replies[TEST_LABELS.name] = Reply(500, b"oops", "text/plain")
    assert data.load_dataset("mnist", fast=False).source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1, lines
    assert "HTTP 404" in lines[0] and "HTTP 500" in lines[0]
    assert_verified(cache, source.files["test_images"], source.files["train_labels"])


def test_a_missing_file_raises_without_the_sample(
    source: Source, mirror: LocalMirror, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mirrors(monkeypatch, source, mirror.url)
    mirror.replies[TRAIN_IMAGES.name] = NOT_FOUND
    with pytest.raises(DataError, match=rf"could not download {re.escape(TRAIN_IMAGES.name)} .*HTTP 404"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert_verified(cache, *(source.files[key] for key in KEYS[1:]))


def flip_last_byte(real: bytes) -> Reply:
    return Reply(body=real[:-1] + bytes([real[-1] ^ 0xFF]))


def half(real: bytes) -> bytes:
    return real[: len(real) // 2]


MISMATCH = r"sha256 is [0-9a-f]{64}, expected {digest} \(damaged or different file\)"
BAD_REPLIES = {  # how the mirror spoils the test labels, and what the message says
    "wrong bytes": (flip_last_byte, MISMATCH),
    "truncated gz": (lambda real: Reply(body=half(real)), MISMATCH),
    "cut-off transfer": (
        lambda real: Reply(body=half(real), claimed_length=len(real)),
        r"the transfer stopped after {half:,} of {whole:,} bytes; try again",
    ),
    "web page": (
        lambda real: Reply(body=b"\n<!DOCTYPE html><html><body>Please sign in</body></html>", content_type="text/html"),
        r"the server sent a web page instead of the file",
    ),
    "HTTP 404": (lambda real: NOT_FOUND, r"HTTP 404 Not Found"),
    "HTTP 500": (lambda real: Reply(500, b"oops", "text/plain"), r"HTTP 500 Internal Server Error"),
}


@pytest.mark.parametrize("case", BAD_REPLIES)
def test_a_bad_download_is_a_clear_error_and_leaves_nothing(
    case: str, source: Source, mirror: LocalMirror, cache: Path
) -> None:
    make_reply, message = BAD_REPLIES[case]
    remote = source.files["test_labels"]
    real = (mirror.folder / remote.name).read_bytes()
    mirror.replies[remote.name] = make_reply(real)
    message = message.replace("{digest}", remote.digest)
    message = message.replace("{half:,}", f"{len(half(real)):,}").replace("{whole:,}", f"{len(real):,}")
    url = re.escape(mirror.url + remote.name)
    with pytest.raises(DataError, match=rf"could not download {remote.name} \({url}: {message}"):
        data.download_file(remote, (mirror.url,), cache / remote.name)
    assert folder_contents(cache) == []


def test_a_refused_connection_is_a_clear_error(cache: Path) -> None:
    with pytest.raises(DataError, match=r"could not download .*: no connection \(.*[Rr]efused"):
        data.download_file(TEST_LABELS, (closed_port_url(),), cache / TEST_LABELS.name)
    assert folder_contents(cache) == []


def test_the_next_mirror_is_tried_when_one_fails(source: Source, mirror: LocalMirror, cache: Path) -> None:
    remote = source.files["test_labels"]
    data.download_file(remote, (closed_port_url(), mirror.url), cache / remote.name)
    # download_file fetches the published .gz and checks its published checksum; ensure_files unpacks it.
    assert folder_contents(cache) == [remote.name]
    assert data.file_digest(cache / remote.name, "sha256") == remote.digest


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
    source: Source,
    mirror: LocalMirror,
    unwritable_data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COURSE_DATA_DIR", str(unwritable_data_dir))
    use_mirrors(monkeypatch, source, mirror.url)
    with pytest.raises(DataError, match=r"cannot write to the data folder .*Set COURSE_DATA_DIR"):
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert data.load_dataset("mnist", fast=False).source == "sample"
    lines = stderr_lines(capsys)
    assert len(lines) == 1 and "COURSE_DATA_DIR" in lines[0], lines
    assert mirror.requests == []


def test_a_corrupt_cached_file_is_replaced(
    source: Source,
    mirror: LocalMirror,
    cache: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    use_mirrors(monkeypatch, source, mirror.url)
    data.ensure_files(data.SPECS["mnist"])
    (cache / TEST_LABELS.plain_name).write_bytes(b"not the labels")
    mirror.requests.clear()
    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    assert (
        "does not hold the expected test labels (the sha256 of its contents differs); removing it so it is "
        "downloaded again" in capsys.readouterr().err
    )
    assert mirror.requests == [TEST_LABELS.name], "only the corrupt file is downloaded again"
    assert_verified(cache, *source.files.values())


def test_offline_a_corrupt_cached_file_is_removed_and_one_file_is_tried(
    source: Source, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    use_mirrors(monkeypatch, source, closed_port_url(), closed_port_url())
    cache.mkdir(parents=True)
    (cache / TEST_LABELS.plain_name).write_bytes(b"not the labels")
    with pytest.raises(DataError, match="no connection") as failure:
        data.load_dataset("mnist", fast=False, allow_sample=False)
    assert folder_contents(cache) == []
    # With no mirror reachable, the other files would only wait for the same timeouts.
    assert str(failure.value).count("could not download") == 1


def test_a_truncated_gz_on_disk_is_a_clear_error(source: Source, tmp_path: Path) -> None:
    real = (source.served / TEST_LABELS.name).read_bytes()
    damaged = tmp_path / TEST_LABELS.name
    damaged.write_bytes(half(real))
    with pytest.raises(
        DataError,
        match=r"t10k-labels-idx1-ubyte\.gz is damaged or unreadable \(.+\)\. Delete it and load again",
    ):
        data.read_idx(damaged)


def test_a_leftover_gz_in_the_cache_is_not_the_dataset(
    source: Source, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the uncompressed files are the cache: a ``.gz`` there is neither read nor counted."""
    use_mirrors(monkeypatch, source, closed_port_url())
    cache.mkdir(parents=True)
    for remote in source.files.values():
        (cache / remote.name).symlink_to(source.served / remote.name)
    assert data.find_on_disk(data.SPECS["mnist"]) is None
    with pytest.raises(DataError, match="no connection"):
        data.ensure_files(data.SPECS["mnist"])


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


@pytest.mark.parametrize("fast", [False, True], ids=["full mode", "fast mode"])
def test_fashion_mnist_that_cannot_be_had_is_an_error_not_the_digit_sample(
    fast: bool, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled sample is MNIST digits: it must never stand in for clothes."""
    not_installed = cache.parent / "not-installed"  # Debian's package is not: its folder is missing
    offline = replace(data.FASHION_MNIST, system_dirs=(not_installed,), mirrors=(closed_port_url(),))
    monkeypatch.setitem(data.SPECS, "fashion_mnist", offline)
    monkeypatch.setenv("COURSE_DATASET", "fashion_mnist")  # as a learner asks for it
    with pytest.raises(DataError) as failure:
        data.load_dataset(fast=fast)  # allow_sample is true: the sample is still not an answer
    message = str(failure.value)
    assert "could not download train-images-idx3-ubyte.gz" in message and "no connection" in message
    assert "bundles no sample of fashion_mnist" in message
    assert "`course data --dataset fashion_mnist`" in message and str(cache.parent / "fashion_mnist") in message
    assert f"`apt-get install dataset-fashion-mnist` installs it in {not_installed}" in message
    assert message.endswith("To train on MNIST instead, unset COURSE_DATASET.")


def test_the_bundled_sample_is_balanced_and_disjoint(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    use_mirrors(monkeypatch, None, closed_port_url())  # fast mode must not try to download: it would fail here
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

    use_mirrors(monkeypatch, None, closed_port_url())
    assert cli.main(["data"]) == 1
    message = capsys.readouterr().err
    assert message.startswith("error: could not download") and "Traceback" not in message
    assert "bundled sample" in message and str(cache) in message and "COURSE_DATA_DIR" in message
    assert not cache.exists(), "a failed `course data` leaves no empty folder behind"


def test_an_unreadable_cached_file_is_a_clear_error_and_falls_back(
    cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, None, closed_port_url())  # nothing may be downloaded, here or from the internet
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
def usb(source: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder like a USB stick's, holding the source's four files as they are (links to them).

    MNIST's checksums are the source's while the test runs, and nothing can be downloaded.
    """
    use_mirrors(monkeypatch, source, closed_port_url())
    folder = tmp_path / "usb"
    for remote in source.files.values():
        original = data_import.find_local_copy(remote, source.folder)
        link(folder, original.name, original)
    return folder


def test_course_data_from_a_folder_imports_the_dataset(
    source: Source, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, source, closed_port_url())  # a download would fail: the import must need none
    assert cli_main("data", "--from", str(source.folder)) == 0
    out = capsys.readouterr()
    assert out.err == "" and f"imported from {source.folder}" in out.out and str(cache) in out.out
    assert_verified(cache, *source.files.values())
    assert data.find_on_disk(data.SPECS["mnist"]) == cache, "the welcome notebook's report must see the imported files"

    dataset = data.load_dataset("mnist", fast=False, allow_sample=False)
    assert dataset.source == "mnist"
    for key, array in zip(KEYS, (dataset.x_train, dataset.y_train, dataset.x_test, dataset.y_test)):
        np.testing.assert_array_equal(array, source.array(key))
    assert capsys.readouterr().err == ""


def test_import_files_takes_the_dotted_names_compressed_or_not(source: Source, tmp_path: Path, cache: Path) -> None:
    folder = tmp_path / "from-a-colleague"
    write(folder, "train-images.idx3-ubyte", source.contents("train_images"))
    link(folder, "train-labels.idx1-ubyte.gz", source.served / TRAIN_LABELS.name)
    write(folder, "t10k-images.idx3-ubyte", source.contents("test_images"))
    # Compressed under an uncompressed name: the gzip header decides, not the name.
    link(folder, "t10k-labels.idx1-ubyte", source.served / TEST_LABELS.name)
    paths = data_import.import_files(source.spec, folder)
    assert paths == {key: cache / remote.plain_name for key, remote in source.files.items()}
    assert_verified(cache, *source.files.values())
    assert sorted(os.listdir(folder)) == [
        "t10k-images.idx3-ubyte",
        "t10k-labels.idx1-ubyte",
        "train-images.idx3-ubyte",
        "train-labels.idx1-ubyte.gz",
    ], "source untouched"


def fashion_test_labels(source: Source) -> Path:
    if not FASHION_DIR.is_dir():
        pytest.skip(f"Fashion-MNIST is not installed in {FASHION_DIR} (apt-get install dataset-fashion-mnist)")
    return FASHION_DIR / data.FASHION_MNIST.files["test_labels"].name


WRONG_FILES = {  # which MNIST file is replaced, and by what
    "MNIST's test labels as its training labels": ("train_labels", lambda source: source.served / TEST_LABELS.name),
    "Fashion-MNIST's test labels as MNIST's": ("test_labels", fashion_test_labels),
}


@pytest.mark.parametrize("case", WRONG_FILES)
def test_course_data_from_refuses_a_wrong_file_and_keeps_the_others(
    case: str, source: Source, usb: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key, impostor = WRONG_FILES[case]
    remote = source.files[key]
    (usb / remote.name).unlink()
    wrong = link(usb, remote.name, impostor(source))
    assert cli_main("data", "--from", str(usb)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert err.startswith(
        f"error: {wrong} is an IDX file of shape {data.read_idx(wrong).shape}, but not the {remote.description} "
        f"({remote.plain_name}): the sha256 of its contents is "
    ), err
    assert f"expected {remote.content_sha256}. It is damaged, or another dataset's file: copy the original again" in err
    assert "Nothing broken was kept" in err and "--from FOLDER" in err
    assert_verified(cache, *(other for other in source.files.values() if other != remote))


def cut_gz(source: Source, folder: Path) -> Path:
    return write(folder, TEST_LABELS.name, half((source.served / TEST_LABELS.name).read_bytes()))


def cut_plain(source: Source, folder: Path) -> Path:
    return write(folder, TEST_LABELS.plain_name, half(source.contents("test_labels")))


def text_file(source: Source, folder: Path) -> Path:
    return write(folder, TEST_LABELS.name, b"These are the test labels, I promise.\n")


def missing(source: Source, folder: Path) -> Path:
    return folder


SHOULD_BE = r"It should be the test labels \(t10k-labels-idx1-ubyte\); copy it again"
DAMAGED_COPIES = {  # how the test labels are spoilt, and what the message says after the file's path (n: their count)
    "cut-off .gz": (
        cut_gz,
        rf" is damaged or unreadable \(Compressed file ended before the end-of-stream marker was "
        rf"reached\)\. {SHOULD_BE} from where it came from\.",
    ),
    "cut-off uncompressed": (
        cut_plain,
        rf" holds {{half}} bytes, but its header \({{n}},\) says {{whole}}\. {SHOULD_BE}\.",
    ),
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
def test_import_files_names_a_damaged_or_missing_file(case: str, source: Source, usb: Path, cache: Path) -> None:
    spoil, message = DAMAGED_COPIES[case]
    whole = len(source.contents("test_labels"))
    message = message.format(half=whole // 2, n=whole - 8, whole=whole)
    (usb / TEST_LABELS.name).unlink()
    named = spoil(source, usb)
    with pytest.raises(DataError) as failure:
        data_import.import_files(source.spec, usb)
    assert re.fullmatch(re.escape(str(named)) + message, str(failure.value)), str(failure.value)
    assert_verified(cache, *(source.files[key] for key in KEYS[:3]))


def test_course_data_from_lists_every_problem_one_per_line(
    source: Source, usb: Path, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (usb / TEST_LABELS.name).unlink()
    (usb / TRAIN_LABELS.name).unlink()
    link(usb, TRAIN_LABELS.name, source.served / TEST_LABELS.name)
    assert cli_main("data", "--from", str(usb)) == 1
    lines = capsys.readouterr().err.splitlines()
    shape = source.array("test_labels").shape
    assert lines[0].startswith(
        f"error: {usb / TRAIN_LABELS.name} is an IDX file of shape {shape}, but not the training labels"
    ), lines
    assert lines[1].startswith(f"{usb} has no file for the test labels: expected one of "), lines
    assert lines[2] == "" and lines[3].startswith("Nothing broken was kept"), lines
    assert_verified(cache, source.files["train_images"], source.files["test_images"])


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
    source: Source, cache: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, source, closed_port_url())
    assert cli_main("data", "--from", str(source.folder.parent)) == 1
    err = capsys.readouterr().err
    assert f"give that one, `--from {source.folder}`" in err and "Traceback" not in err
    assert "bundled sample" in err, "with an empty cache, the learner is told what the notebooks fall back to"


def test_a_failed_import_says_when_the_cache_is_already_complete(
    source: Source, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_mirrors(monkeypatch, source, closed_port_url())
    assert cli_main("data", "--from", str(source.folder)) == 0
    assert cli_main("data", "--from", str(tmp_path / "nowhere")) == 1
    err = capsys.readouterr().err
    assert "already in the cache is complete and verified" in err and "bundled sample" not in err
