"""Reproducibility and CPU threads, for whichever framework the notebook imported."""

from __future__ import annotations

import math
import os
import random
import sys
from pathlib import Path

import numpy as np

from . import config
from .tasks import FRAMEWORK_MODULES

CGROUP_V2_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
CGROUP_V1_QUOTA = Path("/sys/fs/cgroup/cpu/cpu.cfs_quota_us")
CGROUP_V1_PERIOD = Path("/sys/fs/cgroup/cpu/cpu.cfs_period_us")
# A container's memory limit and what it uses now: cgroup v2's files, then cgroup v1's.
CGROUP_MEMORY_FILES = (
    (Path("/sys/fs/cgroup/memory.max"), Path("/sys/fs/cgroup/memory.current")),
    (Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"), Path("/sys/fs/cgroup/memory/memory.usage_in_bytes")),
)
_seed_in_use: int | None = None  # set by setup(), stored in each result record
_framework_in_use: str | None = None  # named in setup(), used by exercises.solution()


def cgroup_cpu_limit() -> float | None:
    """The CPU quota of this process's container in cores, or None if it has none."""
    try:
        quota, period = CGROUP_V2_CPU_MAX.read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int(CGROUP_V1_QUOTA.read_text())
        return None if quota <= 0 else quota / int(CGROUP_V1_PERIOD.read_text())
    except (OSError, ValueError):
        return None


def usable_cpus() -> int:
    """CPUs this process may really use: its affinity mask, capped by its cgroup quota.

    ``os.cpu_count()`` reports the host's cores, even inside a container or on
    mybinder.org, where one CPU is allowed; threads beyond that only contend.
    """
    try:
        count = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        count = os.cpu_count() or 1
    limit = cgroup_cpu_limit()
    if limit is not None:
        count = min(count, max(1, math.ceil(limit)))
    return max(1, count)


def memory_limit_bytes() -> int | None:
    """The memory this container may use (its cgroup limit, as on mybinder.org), or None without one."""
    limit = _cgroup_memory()
    return limit[0] if limit else None


def container_memory_free() -> int | None:
    """Bytes this container may still allocate before its cgroup limit, or None without one."""
    limit = _cgroup_memory()
    return max(0, limit[0] - limit[1]) if limit else None


def _cgroup_memory() -> tuple[int, int] | None:
    for limit_file, usage_file in CGROUP_MEMORY_FILES:
        try:
            limit, usage = limit_file.read_text().strip(), int(usage_file.read_text())
        except (OSError, ValueError):
            continue
        if limit != "max" and int(limit) < 1 << 60:  # cgroup v1 writes "no limit" as a huge number
            return int(limit), usage
    return None


def setup(framework: str | None = None, seed: int = 42, threads: int | None = None) -> int:
    """Seed Python, NumPy and every framework already imported, and size their thread pools.

    Call it right after importing your framework, and name it: ``course.setup("keras")``.
    It configures only frameworks that are loaded, so importing ``course_utils`` never
    imports TensorFlow or PyTorch. The environment variable ``COURSE_SEED`` overrides
    ``seed``. Returns the number of threads used.

    It sets no environment variable: this process read ``PYTHONHASHSEED`` and the BLAS libraries'
    ``OMP_NUM_THREADS`` as it started, so writing them now would change nothing here. A process it
    starts gets its seed from :meth:`config.Settings.child_env` (``COURSE_SEED``, ``PYTHONHASHSEED``)
    and sizes its own frameworks with its own ``setup()``, as the claims' workers do.
    """
    global _seed_in_use, _framework_in_use
    if framework is not None:
        _framework_in_use = _checked_framework(framework)
        for line in unsupported_versions(framework):
            print(line)
    # COURSE_SEED lets a test or a curious learner rerun every notebook under another seed unchanged.
    seed = config.seed(seed)
    _seed_in_use = seed
    threads = threads or usable_cpus()
    random.seed(seed)
    np.random.seed(seed)
    if "tensorflow" in sys.modules:
        _setup_tensorflow(sys.modules["tensorflow"], seed, threads)
    if "torch" in sys.modules:
        _setup_torch(sys.modules["torch"], seed, threads)
    if "keras" in sys.modules:
        sys.modules["keras"].utils.set_random_seed(seed)
    return threads


def _setup_tensorflow(tf, seed: int, threads: int) -> None:
    tf.random.set_seed(seed)
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(min(2, threads))
    except RuntimeError:
        pass  # TensorFlow already started its runtime: its thread pools can no longer change


def _setup_torch(torch, seed: int, threads: int) -> None:
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(min(2, threads))
    except RuntimeError:
        pass  # set once per process; a second setup() keeps the first value


def unsupported_versions(framework: str) -> list[str]:
    """One line for each of the framework's packages installed outside the range the course declares.

    The ranges are this package's ``frameworks`` extra (pyproject.toml), read from its installed metadata.
    """
    from importlib import metadata

    from packaging.requirements import Requirement

    try:
        declared = [Requirement(text) for text in metadata.requires("course-utils") or []]
    except metadata.PackageNotFoundError:
        return []
    # Keras is checked with TensorFlow, the backend the course's Keras notebooks run on.
    packages = {FRAMEWORK_MODULES[framework], *(("tensorflow",) if framework == "keras" else ())}
    found = ((d.metadata["Name"].lower(), d.version) for d in metadata.distributions())
    installed = {name: version for name, version in found if name in packages}
    return [
        f"Note: {need.name} {installed[need.name]} is outside the versions this course is tested with "
        f"({need.specifier}); if something fails, install one in that range."
        for need in declared
        if need.name in installed and not need.specifier.contains(installed[need.name], prereleases=True)
    ]


def _checked_framework(framework: str) -> str:
    if framework not in FRAMEWORK_MODULES:
        raise ValueError(f"course.setup({framework!r}): name one of {', '.join(map(repr, FRAMEWORK_MODULES))}.")
    if FRAMEWORK_MODULES[framework] not in sys.modules:
        raise RuntimeError(
            f"import {FRAMEWORK_MODULES[framework]} before course.setup({framework!r}), "
            "so that its seed and threads are set."
        )
    return framework


def framework_in_use() -> str | None:
    """The framework the notebook named in :func:`setup`, or None before it."""
    return _framework_in_use


def seed_in_use() -> int | None:
    """The seed the last :func:`setup` used (``COURSE_SEED`` if set), or None before any setup."""
    return _seed_in_use


def describe_environment() -> dict[str, object]:
    """Versions, threads and accelerators of the frameworks already imported, for display."""
    info: dict[str, object] = {
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "usable_cpus": usable_cpus(),
        "os_cpu_count": os.cpu_count(),
    }
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        info["tensorflow"] = tf.__version__
        info["tensorflow_gpus"] = len(tf.config.list_physical_devices("GPU"))
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["torch_cuda"] = torch.cuda.is_available()
    if "keras" in sys.modules:
        keras = sys.modules["keras"]
        info["keras"] = keras.__version__
        info["keras_backend"] = keras.backend.backend()
    return info
