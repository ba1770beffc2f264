"""``course data --from FOLDER``: import the dataset's four files from local copies, checked by their contents.

For a classroom without internet, or files on a USB stick: each file is parsed as IDX and
checked against the sha256 of its contents, and only then unpacked into the cache.
"""

from __future__ import annotations

from pathlib import Path

from course_utils import config
from course_utils.data import (
    DataError,
    DatasetSpec,
    RemoteFile,
    cached_paths,
    file_digest,
    install_file,
    raise_failures,
    unwritable,
)


def cache_is_complete(spec: DatasetSpec, cache_dir: Path | None = None) -> bool:
    """True if the cache holds all four files with the right contents; it only reads, removing nothing."""
    try:
        return all(
            path.is_file() and file_digest(path, "sha256") == spec.files[key].content_sha256
            for key, path in cached_paths(spec, cache_dir).items()
        )
    except OSError:
        return False


def find_local_copy(remote: RemoteFile, folder: Path) -> Path:
    """The file in ``folder`` that holds ``remote``, under any of its usual names."""
    for name in remote.local_names():
        if (folder / name).is_file():
            return folder / name
    raise DataError(
        f"{folder} has no file for the {remote.description or remote.plain_name}: "
        f"expected one of {', '.join(remote.local_names())}. Copy it there under one of these names."
    )


def import_files(spec: DatasetSpec, source: Path, cache_dir: Path | None = None) -> dict[str, Path]:
    """Check local copies of the dataset's four files in ``source`` by their contents, and unpack them into the cache.

    Every file is looked at, so one message lists every problem; the files that pass are kept.
    """
    if source.is_file():
        raise DataError(
            f"{source} is a file, not a folder. Give the folder that holds the four IDX files, such as {source.parent}."
        )
    if not source.is_dir():
        raise DataError(f"{source} does not exist. Give the folder that holds the four IDX files.")
    inside = source / spec.name
    if inside.is_dir() and not any(
        (source / name).is_file() for remote in spec.files.values() for name in remote.local_names()
    ):
        raise DataError(
            f"{source} holds none of the four IDX files, but has a folder {inside}: give that one, `--from {inside}`."
        )
    folder = (cache_dir or config.data_dir()) / spec.name
    paths, failures = {}, []
    for key, remote in spec.files.items():
        try:
            paths[key] = install_file(find_local_copy(remote, source), remote, folder / remote.plain_name)
        except DataError as error:
            failures.append(str(error))
        except OSError as error:
            raise unwritable(folder, error) from error
    raise_failures(failures, folder)
    return paths
