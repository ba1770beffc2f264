"""Atomic writes: all or nothing, and readable by others as any new file is."""

from __future__ import annotations

import os
from pathlib import Path

from course_utils.files import replaced_atomically

import pytest


def test_a_written_file_appears_whole_with_the_usual_permissions(tmp_path: Path) -> None:
    old_mask = os.umask(0o022)
    try:
        with replaced_atomically(tmp_path / "record.json", "w") as stream:
            stream.write("{}")
            assert not (tmp_path / "record.json").exists(), "nothing is visible before the block ends"
    finally:
        os.umask(old_mask)
    assert (tmp_path / "record.json").read_text() == "{}"
    assert (tmp_path / "record.json").stat().st_mode & 0o777 == 0o644, "a shared data folder must stay readable"
    assert os.listdir(tmp_path) == ["record.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    (tmp_path / "record.json").write_text("old")
    with pytest.raises(TypeError):
        with replaced_atomically(tmp_path / "record.json", "w") as stream:
            stream.write("half")
            raise TypeError("not serialisable")
    assert (tmp_path / "record.json").read_text() == "old"
    assert os.listdir(tmp_path) == ["record.json"]
