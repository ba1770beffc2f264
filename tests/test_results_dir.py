"""Where result records go: the project's results/ where the account may write, else the account's own folder.

On a class server the course is one install, owned by root and read-only for the students (/opt/course);
every task notebook records its results in a read-only cell, so a results folder that a student cannot
write is a PermissionError in every notebook (issue 21). These run the record as a real unprivileged
account where the suite runs as root (setpriv, as CI does), so the file system itself says no.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from course_utils import config

import pytest

REPO = Path(__file__).resolve().parents[1]
NOBODY = 65534  # Debian's nobody/nogroup: an account that owns nothing here
# A student's kernel recording a run: the same call as every task notebook's read-only check cell.
RECORD = """
import sys
from pathlib import Path
import numpy as np
from course_utils import config, results
from course_utils.data import Dataset
config.WORK_DIR = Path(sys.argv[1])  # the shared install, as if the course were imported from it
images = np.zeros((10, 28, 28), np.uint8)
labels = np.arange(10, dtype=np.uint8)
dataset = Dataset(images, labels, images, labels, source="sample")
print(results.record_results("mlp", "keras", 0.9, 1.0, 10, 1, dataset, "1.0"))
"""


@pytest.fixture
def shared() -> Iterator[Path]:
    """A folder that others may enter: pytest's own tmp_path is private to the account running the suite."""
    folder = Path(tempfile.mkdtemp(prefix="course-results-"))
    folder.chmod(0o755)
    yield folder
    for path in (folder, *folder.rglob("*")):  # let the clean-up into folders made read-only
        if path.is_dir():
            path.chmod(0o755)
    shutil.rmtree(folder)


def record_as_other_account(install: Path, home: Path, **env: str) -> subprocess.CompletedProcess:
    """Record a run with the course imported from ``install``, as an account that does not own it."""
    command = [sys.executable, "-c", RECORD, str(install)]
    if os.geteuid() == 0:  # root may write anywhere: drop to nobody, who owns only the home made for it
        if not shutil.which("setpriv"):
            pytest.skip("setpriv (util-linux) is needed to run as another account when the suite runs as root")
        os.chown(home, NOBODY, NOBODY)
        command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *command]
    variables = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(REPO), **env}
    return subprocess.run(command, env=variables, capture_output=True, text=True, timeout=120)


def test_a_read_only_install_records_in_the_accounts_own_folder(shared: Path) -> None:
    install, home = shared / "opt-course", shared / "home"
    install.mkdir()
    home.mkdir(mode=0o700)
    install.chmod(0o555)  # the students' view of /opt/course: read and enter, never write
    done = record_as_other_account(install, home)
    assert done.returncode == 0, f"recording as a student failed:\n{done.stderr[-2000:]}"
    written = Path(done.stdout.strip().splitlines()[-1])
    assert written.parent == home / ".local" / "share" / "course" / "results", done.stdout
    assert written.is_file() and not (install / "results").exists()


def test_xdg_data_home_and_the_override_are_honoured(shared: Path) -> None:
    install, home = shared / "opt-course", shared / "home"
    install.mkdir()
    home.mkdir(mode=0o700)
    install.chmod(0o555)
    done = record_as_other_account(install, home, XDG_DATA_HOME=str(home / "data"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.split()[-1]).parent == home / "data" / "course" / "results"
    done = record_as_other_account(install, home, COURSE_RESULTS_DIR=str(home / "mine"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert Path(done.stdout.split()[-1]).parent == home / "mine"


def test_a_writable_project_keeps_its_results_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COURSE_RESULTS_DIR", raising=False)
    monkeypatch.setattr(config, "WORK_DIR", tmp_path / "checkout")  # not made yet: its parent is writable
    assert config.results_dir() == tmp_path / "checkout" / "results"
