"""CPU counting inside containers, seeding, and an import of course_utils that leaves the frameworks alone."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from course_utils import system

import numpy as np
import pytest

AFFINITY = {0, 1, 2, 3}


@pytest.fixture
def cgroup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point the cgroup files at ``tmp_path`` (none exist yet) and give this process four CPUs.

    Returns a function that writes one of the files: ``cgroup("v2", "50000 100000")``.
    """
    files = {
        "v2": tmp_path / "cpu.max",
        "v1_quota": tmp_path / "cpu.cfs_quota_us",
        "v1_period": tmp_path / "cpu.cfs_period_us",
    }
    monkeypatch.setattr(system, "CGROUP_V2_CPU_MAX", files["v2"])
    monkeypatch.setattr(system, "CGROUP_V1_QUOTA", files["v1_quota"])
    monkeypatch.setattr(system, "CGROUP_V1_PERIOD", files["v1_period"])
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(AFFINITY), raising=False)

    def write(which: str, text: str) -> None:
        files[which].write_text(text + "\n")

    return write


def test_without_a_quota_the_affinity_mask_counts(cgroup) -> None:
    assert system.cgroup_cpu_limit() is None
    assert system.usable_cpus() == len(AFFINITY)


def test_the_affinity_mask_counts_not_the_hosts_cores(monkeypatch: pytest.MonkeyPatch, cgroup) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {5}, raising=False)
    monkeypatch.setattr(os, "cpu_count", lambda: 64)
    assert system.usable_cpus() == 1


@pytest.mark.parametrize(
    "which, text, limit, cpus",
    [
        ("v2", "50000 100000", 0.5, 1),
        ("v2", "150000 100000", 1.5, 2),
        ("v2", "800000 100000", 8.0, len(AFFINITY)),
        ("v2", "max 100000", None, len(AFFINITY)),
        ("v1_quota", "200000", 2.0, 2),
        ("v1_quota", "-1", None, len(AFFINITY)),
    ],
    ids=["half a core", "one and a half", "more than the mask", "v2 max", "v1 two cores", "v1 unlimited"],
)
def test_a_cgroup_quota_caps_the_count(cgroup, which: str, text: str, limit: float | None, cpus: int) -> None:
    cgroup(which, text)
    cgroup("v1_period", "100000")
    assert system.cgroup_cpu_limit() == limit
    assert system.usable_cpus() == cpus


def test_an_unreadable_cgroup_file_means_no_quota(cgroup) -> None:
    cgroup("v2", "garbage")
    assert system.cgroup_cpu_limit() is None
    assert system.usable_cpus() == len(AFFINITY)


SEEDED = ("COURSE_SEED", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def test_setup_seeds_python_and_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SEEDED:  # setup() writes some for the process; monkeypatch puts back whatever it had
        monkeypatch.delenv(variable, raising=False)
    draws = []
    for _ in range(2):
        assert system.setup(seed=7, threads=1) == 1
        draws.append((random.random(), np.random.rand()))
    assert draws[0] == draws[1]
    monkeypatch.setenv("COURSE_SEED", "8")
    system.setup(seed=7, threads=1)
    assert (random.random(), np.random.rand()) != draws[0], "COURSE_SEED overrides the seed argument"


def child(code: str) -> object:
    """What a Python process started now prints as JSON: it inherits os.environ as it is."""
    done = subprocess.run([sys.executable, "-c", f"import json\n{code}"], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.splitlines()[-1])


def test_setup_seeds_and_sizes_the_processes_started_after_it_not_this_one(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in SEEDED:
        monkeypatch.delenv(variable, raising=False)
    own_hash = hash("course")
    system.setup(seed=7, threads=1)
    assert hash("course") == own_hash, "this interpreter fixed its hash seed when it started"
    # A worker started after setup() has a reproducible hash seed; PyTorch there sizes its pool by OMP_NUM_THREADS.
    first = child("import torch\nprint(json.dumps([hash('course'), torch.get_num_threads()]))")
    assert first[1] == 1
    assert child("print(json.dumps(hash('course')))") == first[0]
    system.setup(seed=8, threads=1)
    assert child("print(json.dumps(hash('course')))") != first[0], "another seed, another hash seed"


def frameworks_loaded_by(statement: str) -> list[str]:
    """The frameworks a fresh interpreter has imported after running ``statement``."""
    script = (
        f"import sys, json\nfrom course_lab.claims.workers import FRAMEWORK_PACKAGES\n{statement}\n"
        "print(json.dumps(sorted(set(FRAMEWORK_PACKAGES) & set(sys.modules))))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_importing_course_utils_imports_no_framework() -> None:
    assert frameworks_loaded_by("import course_utils; course_utils.describe_environment()") == []


def test_only_the_claims_worker_modules_import_a_framework() -> None:
    import importlib.util
    import pkgutil

    import course_utils

    import course_lab.claims
    import course_tools
    from course_lab.claims.common import KERAS, PYTORCH, TENSORFLOW

    modules = [
        info.name
        for package in (course_utils, course_tools, course_lab.claims)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]
    workers = {KERAS, PYTORCH, TENSORFLOW, "course_lab.claims.pytorch_ddp"}
    assert workers <= set(modules)
    # Every other module, the claims package and the command line included, must not reach them. The
    # grading modules need the instructor's set-up (nbgrader; the judge service also JupyterHub): where
    # that is not installed (the learner's, as README sets it up), they are left out.
    needs = {"course_tools.exchange": "nbgrader", "course_tools.grading": "nbgrader",
             "course_tools.nbgrader_export": "nbgrader", "course_tools.judge_service": "jupyterhub"}  # fmt: skip
    installed = {name for name in modules if name not in needs or importlib.util.find_spec(needs[name])}
    others = [name for name in modules if name not in workers and name in installed]
    assert frameworks_loaded_by("\n".join(f"import {name}" for name in others)) == []
    assert frameworks_loaded_by(f"import {PYTORCH}") == ["torch"], "the check must see a framework import"
