"""CPU counting inside containers, seeding, and an import of course_utils that leaves the frameworks alone."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

from course_utils import config, system

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
    monkeypatch.delenv("COURSE_SEED", raising=False)
    draws = []
    for _ in range(2):
        assert system.setup(seed=7, threads=1) == 1
        draws.append((random.random(), np.random.rand()))
    assert draws[0] == draws[1]
    monkeypatch.setenv("COURSE_SEED", "8")
    system.setup(seed=7, threads=1)
    assert (random.random(), np.random.rand()) != draws[0], "COURSE_SEED overrides the seed argument"


def test_setup_sets_no_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process read its hash seed and BLAS threads as it started: setup() leaves them to the children."""
    for variable in SEEDED:
        monkeypatch.delenv(variable, raising=False)
    before = dict(os.environ)
    system.setup(seed=7, threads=1)
    assert dict(os.environ) == before


def child(code: str, env: dict[str, str]) -> object:
    """What a Python process started with ``env`` prints as JSON."""
    done = subprocess.run(
        [sys.executable, "-c", f"import json\n{code}"], capture_output=True, text=True, check=True, env=env
    )
    return json.loads(done.stdout.splitlines()[-1])


def test_a_child_started_with_the_settings_environment_has_their_seed_and_hash_seed() -> None:
    settings = config.Settings.from_environment().replace(seed=7)
    probe = "from course_utils import config\nprint(json.dumps([hash('course'), config.seed(42)]))"
    first, again = child(probe, settings.child_env()), child(probe, settings.child_env())
    assert first == again and first[1] == 7, "the same hash seed in every child, and COURSE_SEED read there"
    other = child(probe, settings.replace(seed=8).child_env())
    assert other[0] != first[0] and other[1] == 8, "another seed, another hash seed"


@pytest.mark.parametrize(
    "settings",
    [
        config.Settings(),
        config.Settings(fast=True, dataset="fashion_mnist", seed=3, solutions_withheld=True, strict_exercises=True),
        config.Settings(data_dir=Path("/srv/data"), results_dir=Path("/srv/records")),
    ],
    ids=["defaults", "every switch", "folders"],
)
def test_settings_reach_a_child_unchanged(settings: config.Settings) -> None:
    # The caller's own values, which the settings replace or, where they ask for none, remove.
    base = {"PATH": "/bin", "COURSE_DATASET": "mnist", "COURSE_SEED": "1", "COURSE_EXERCISES": "strict"}
    env = settings.child_env(base, MPLBACKEND="Agg")
    assert config.Settings.from_environment(env) == settings
    assert env["PATH"] == "/bin" and env["MPLBACKEND"] == "Agg" and env["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert settings.child_env({"TF_CPP_MIN_LOG_LEVEL": "0"})["TF_CPP_MIN_LOG_LEVEL"] == "0"


def test_settings_read_the_environment_as_the_docs_write_it() -> None:
    read = config.Settings.from_environment(
        {"COURSE_FAST": " Yes ", "COURSE_DATASET": "Fashion-MNIST", "COURSE_SEED": "7", "COURSE_SOLUTIONS": "withheld"}
    )
    assert (read.fast, read.dataset, read.seed, read.solutions_withheld) == (True, "fashion_mnist", 7, True)
    assert config.Settings.from_environment({}).dataset_name == "mnist"
    with pytest.raises(ValueError, match="COURSE_SEED='seven' is not a whole number"):
        config.Settings.from_environment({"COURSE_SEED": "seven"})
    with pytest.raises(ValueError, match="COURSE_DATASET='cifar10' is not a dataset this course knows"):
        config.Settings.from_environment({"COURSE_DATASET": "cifar10"})


def test_use_fixes_this_processs_settings_and_its_childrens_then_puts_the_environment_back(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("COURSE_FAST", "0")
    monkeypatch.delenv("COURSE_SEED", raising=False)
    before = dict(os.environ)
    fixed = config.Settings.from_environment().replace(fast=True, seed=5, results_dir=tmp_path)
    with config.use(fixed):
        # A worker started without an environment of its own inherits this one's: the same settings.
        probe = "from course_utils import config\nprint(json.dumps([config.fast_mode(), config.seed(42)]))"
        assert child(probe, dict(os.environ)) == [True, 5]
        os.environ["COURSE_FAST"] = "0"  # read no more in this process while the block runs
        assert config.settings() == fixed and config.fast_mode() and config.seed(42) == 5
    assert dict(os.environ) == before and not config.fast_mode()


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
