"""The grader's sandbox (course_tools/sandbox.py): a kernel that sees the runtime and nothing else of the grader's."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

from course_tools import sandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap: apt-get install bubblewrap")


def run_in_sandbox(folder: Path, *sources: str, **traits: object) -> list[str]:
    """Run code cells in a sandboxed kernel started from ``folder``; the text each printed."""
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in sources])
    manager = sandbox.SandboxedKernelManager(kernel_name="python3", **traits)
    client = NotebookClient(notebook, km=manager, timeout=120, resources={"metadata": {"path": str(folder)}})
    client.execute()
    return ["".join(out.get("text", "") for out in cell.outputs) for cell in notebook.cells]


def test_the_kernel_reads_the_runtime_and_nothing_of_the_graders(tmp_path: Path) -> None:
    import course_judges

    secret = tmp_path / "gradebook.db"
    secret.write_text("grades")
    (tmp_path / "submission.txt").write_text("mine")
    probe = f"""
import os, socket
from pathlib import Path
import course_utils
print("uid", os.getuid())
print("own file", Path("submission.txt").read_text())
print("gradebook", Path({str(secret)!r}).exists())
print("references", Path({course_judges.__file__!r}).exists())
try:
    import course_judges
    print("imports references")
except ImportError:
    print("no references")
try:
    Path(course_utils.__file__).write_text("")
except OSError:
    print("runtime read-only")
try:
    socket.create_connection(("127.0.0.1", 22), timeout=2)
except OSError:
    print("no network")
"""
    (printed,) = run_in_sandbox(tmp_path, probe)
    assert "own file mine" in printed
    assert "gradebook False" in printed and "references False" in printed and "no references" in printed
    assert "runtime read-only" in printed and "no network" in printed
    if os.geteuid() == 0:  # root gives each sandbox a user id of its own
        assert int(printed.split("uid ")[1].split()[0]) >= sandbox.FIRST_SANDBOX_UID
    assert secret.read_text() == "grades"


def test_a_kernel_over_its_memory_limit_is_killed_and_says_why(tmp_path: Path) -> None:
    hog = "import numpy as np\nblocks = [np.ones(50_000_000) for _ in range(20)]"  # 8 GB, 0.4 GB at a time
    with pytest.raises(DeadKernelError):
        run_in_sandbox(tmp_path, hog, memory_limit_gb=1.0)
