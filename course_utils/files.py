"""Files: writing one so that nobody ever reads half of it, and reading the package's own TOML data."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10
    import tomli as tomllib


def load_toml(path: Path) -> dict:
    """The TOML file ``path`` as a dict: the exercises' words, the datasets' checksums."""
    with path.open("rb") as file:
        return tomllib.load(file)


@contextmanager
def replaced_atomically(target: Path, mode: str = "wb") -> Iterator[IO]:
    """Write ``target`` through a temporary file beside it, renamed into place only if the block succeeds.

    If the block raises, the temporary file is removed and ``target`` is untouched. The new file
    gets the permissions any new file would (mkstemp's are owner-only), so that a data folder
    shared by a classroom, ``COURSE_DATA_DIR``, stays readable by the students.
    """
    handle, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    os.close(handle)
    try:
        with open(tmp_name, mode) as stream:  # opened by name, so that stream.name is the file's path
            yield stream
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, target)
    finally:
        Path(tmp_name).unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it
    os.umask(mask)
    return mask
