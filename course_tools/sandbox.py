"""A kernel that runs a student's notebook out of reach of everything else: bubblewrap, its own user, limits.

The grader (``course_tools/grading.py``) executes each submission with this kernel manager. The
kernel sees a read-only view of the system and of the course's runtime (Python, the virtual
environment, ``course_utils``, the bundled sample and the learner notebooks), a private ``/tmp``
and home, and the folder of the submission, copied. It does not see the gradebook, the other
submissions, the instructor's home, nbgrader's exchange or the exercises' references
(``course_judges``, masked where it is installed). It has no network: it talks to the grader over
Unix sockets (the ``ipc`` transport) in a folder of its own. Started by root, it runs as a user id
of its own, so that it cannot signal or read the grader's processes either; started by another
user, bubblewrap maps that user into a user namespace instead.

Limits: a memory limit that a watchdog in the grader enforces on the sandbox's whole process tree
(psutil, so that it works with cgroups v1, v2 or none), and ``prlimit`` for processes, file sizes
and CPU seconds. The grader's own time limits (per cell and per notebook) are in grading.py.
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

import course_utils
from course_utils import config

import psutil
from jupyter_client.manager import AsyncKernelManager
from traitlets import Float, Integer

# Each sandbox runs as its own user id when root starts it, above the ids of real accounts.
FIRST_SANDBOX_UID = 200_000
_uids = itertools.count(FIRST_SANDBOX_UID + os.getpid() % 50_000 * 10)
PROCESS_LIMIT = 4096  # TensorFlow and PyTorch start a thread pool each; threads count as processes
FILE_SIZE_LIMIT = 1 << 30  # no file over 1 GiB: the private /tmp lives in memory
COPY_LIMIT = 256 << 20  # of the submission's folder: a notebook and its small files
# Folders a kernel must not see even though they sit under a folder it reads (/usr): nbgrader's exchange.
HIDDEN = (Path("/usr/local/share/nbgrader"),)


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing or cannot start here; the message says what to install or set."""


def bubblewrap() -> str:
    """The ``bwrap`` command, or SandboxUnavailable with how to get it."""
    found = shutil.which("bwrap")
    if found is None:
        raise SandboxUnavailable(
            "grading runs each submission in a sandbox, and bubblewrap is not installed: "
            "apt-get install bubblewrap (Debian, Ubuntu) or dnf install bubblewrap. To grade without a "
            "sandbox (the students' code then runs with your rights), set "
            "c.SandboxedExecute.sandbox = False in nbgrader_config.py."
        )
    return found


def runtime_paths() -> list[Path]:
    """What a task notebook reads of the course: Python, the environment, the runtime and its data."""
    paths = {Path(sys.base_prefix), Path(sys.prefix), Path(course_utils.__file__).resolve().parent}
    paths |= {config.SAMPLE_PATH.resolve().parent, config.NOTEBOOKS_DIR.resolve()}
    data = config.data_dir()
    if data.is_dir():  # full-mode grading reads the cached datasets
        paths.add(data.resolve())
    executable = Path(sys.executable).resolve()
    paths.add(executable.parent.parent)
    return sorted(path for path in paths if path.exists())


def references_paths() -> list[Path]:
    """Where the exercises' references are installed, to be masked: the kernel must not read them."""
    spec = importlib.util.find_spec("course_judges")
    if spec is None or not spec.submodule_search_locations:
        return []
    return [Path(location).resolve() for location in spec.submodule_search_locations]


def sandbox_command(
    kernel_cmd: list[str], workdir: Path, socket_dir: Path, uid: int | None, cpu_seconds: int
) -> list[str]:
    """``kernel_cmd`` wrapped in bubblewrap: read-only system and runtime, no network, ``workdir`` writable."""
    # No --die-with-parent: it ties the sandbox's life to the thread that started it, and jupyter_client
    # may start kernels from a short-lived thread. The kernel manager kills the sandbox's processes itself.
    command = [bubblewrap(), "--new-session", "--unshare-net", "--unshare-pid"]
    command += ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
    if uid is None:  # not root: an unprivileged user namespace stands in for a user of its own
        command += ["--unshare-user"]
    for system in ("/usr", "/etc", "/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        command += ["--ro-bind-try", system, system]
    command += ["--proc", "/proc", "--dev", "/dev", "--perms", "1777", "--tmpfs", "/dev/shm"]  # joblib's semaphores
    command += ["--perms", "1777", "--tmpfs", "/tmp", "--tmpfs", "/home"]
    command += ["--tmpfs", "/run"]
    runtime = runtime_paths()
    # bubblewrap makes a bound folder's parents with the host's modes, and /root is 0700: open them
    # (they are empty in the sandbox but for what is bound into them).
    parents = {parent for path in [*runtime, socket_dir, workdir] for parent in path.parents if parent != Path("/")}
    for parent in sorted(parents, key=lambda path: len(path.parts)):
        if parent != Path("/tmp") and not str(parent).startswith(("/usr", "/etc")):
            command += ["--perms", "0755", "--dir", str(parent)]
    for path in runtime:
        command += ["--ro-bind", str(path), str(path)]
    for path in [*references_paths(), *HIDDEN]:
        if path.exists():
            command += ["--tmpfs", str(path)]
    command += ["--bind", str(socket_dir), str(socket_dir), "--bind", str(workdir), str(workdir)]
    # jupyter_client names its own process as the kernel's parent, an id that means nothing in the sandbox's
    # process namespace: ipykernel would take the parent for dead and exit.
    command += ["--chdir", str(workdir), "--unsetenv", "JPY_PARENT_PID"]
    if uid is not None:  # root: drop to the sandbox's own user, with no way back
        command += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs"]
    limits = [f"--nproc={PROCESS_LIMIT}", f"--fsize={FILE_SIZE_LIMIT}", f"--cpu={cpu_seconds}"]
    return [*command, "prlimit", *limits, "--", *kernel_cmd]


def sandbox_environment(workdir: Path, passed: dict[str, str]) -> dict[str, str]:
    """A clean environment: the course's own settings, nothing of the grader's (tokens, paths, keys)."""
    home = str(workdir / ".home")  # the sandbox's user has no home of its own: one in its writable folder
    keep = ("COURSE_FAST", "COURSE_DATASET", "COURSE_DATA_DIR", "COURSE_SEED", "KERAS_BACKEND", "LANG", "LC_ALL")
    environment = {name: passed[name] for name in keep if name in passed}
    environment |= {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "COURSE_RESULTS_DIR": str(workdir / "results"),
        "COURSE_SOLUTIONS": "withheld",
        "PYTHONNOUSERSITE": "1",
    }
    return environment


def copy_submission(source: Path, target: Path, budget: int = COPY_LIMIT) -> None:
    """Copy the submission's folder (its notebook and any files beside it) for the kernel to work in.

    A copy, so that the kernel cannot change what the grader reads; regular files only (no links out of
    it, no sockets), no hidden files or databases, and no more than ``budget`` bytes in all.
    """
    target.mkdir()
    for folder, subfolders, files in os.walk(source):
        here = Path(folder)
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in files:
            path = here / name
            if name.startswith(".") or name.endswith(".db") or path.is_symlink() or not path.is_file():
                continue
            budget -= path.stat().st_size
            if budget < 0:
                return
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


class SandboxedKernelManager(AsyncKernelManager):
    """An ipykernel in a bubblewrap sandbox, talking over Unix sockets, under a memory watchdog."""

    memory_limit_gb = Float(3.0, help="Memory of the sandbox's process tree, in GB, before it is killed.").tag(
        config=True
    )
    cpu_seconds = Integer(3600, help="CPU seconds the kernel may use in all (prlimit --cpu).").tag(config=True)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.scratch = Path(tempfile.mkdtemp(prefix="course-sandbox-"))
        self.uid = next(_uids) if os.geteuid() == 0 else None
        self.socket_dir = self.scratch / "sockets"
        self.socket_dir.mkdir()
        self.transport = "ipc"
        self.ip = str(self.socket_dir / "kernel")
        self.connection_file = str(self.socket_dir / "kernel.json")
        self.killed_because: str | None = None  # what the watchdog saw, for the grade's reason
        self._watching = threading.Event()
        if self.uid is not None:
            for path in (self.scratch, self.socket_dir):
                os.chown(path, self.uid, self.uid)

    def write_connection_file(self, **kwargs: object) -> None:
        super().write_connection_file(**kwargs)
        if self.uid is not None:  # the kernel, running as its own user, must read it
            os.chown(self.connection_file, self.uid, self.uid)

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kw: object) -> None:
        workdir = self.scratch / "work"
        copy_submission(Path(str(kw.get("cwd") or os.getcwd())), workdir)
        (workdir / ".home").mkdir()
        if self.uid is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.lchown(path, self.uid, self.uid)
        kw["cwd"] = str(self.scratch)
        kw["env"] = sandbox_environment(workdir, dict(kw.get("env") or os.environ))  # type: ignore[arg-type]
        command = sandbox_command(kernel_cmd, workdir, self.socket_dir, self.uid, self.cpu_seconds)
        self.kernel_spec.interrupt_mode = "message"  # a SIGINT would reach bubblewrap, not the kernel
        await super()._async_launch_kernel(command, **kw)
        self._watching.set()
        threading.Thread(target=self._watch_memory, daemon=True).start()

    def _watch_memory(self) -> None:
        """Kill the sandbox when its processes together hold more than the limit."""
        limit = self.memory_limit_gb * 1e9
        while self._watching.is_set():
            process = getattr(self.provisioner, "process", None)
            if process is None or process.poll() is not None:
                return
            try:
                root = psutil.Process(process.pid)
                used = sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
            except psutil.Error:
                return
            if used > limit:
                self.killed_because = f"it used {used / 1e9:.1f} GB of memory, over the limit of {limit / 1e9:.1f} GB"
                self.kill_sandbox()
                return
            time.sleep(0.5)

    def kill_sandbox(self) -> None:
        """Kill every process of the sandbox: bubblewrap's tree, and (as root) all that its user id runs."""
        process = getattr(self.provisioner, "process", None)
        doomed: list[psutil.Process] = []
        if process is not None:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(process.pid)
                doomed += [root, *root.children(recursive=True)]
        if self.uid is not None:  # a process that left the tree (a daemon) still runs as the sandbox's user
            doomed += [p for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == self.uid]
        for victim in doomed:
            with contextlib.suppress(psutil.Error):
                victim.send_signal(signal.SIGKILL)

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        self._watching.clear()
        self.kill_sandbox()
        await super()._async_cleanup_resources(restart=restart)
        if not restart:
            shutil.rmtree(self.scratch, ignore_errors=True)
