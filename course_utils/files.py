"""Writing a file so that nobody ever reads half of it: the downloads cache, records, predictions."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


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
