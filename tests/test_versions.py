"""The versions the course declares, and the ones its notebooks really ran with.

pyproject.toml's extra ``frameworks`` declares the supported range of each framework;
``tests/versions/run`` runs the task notebooks with the oldest versions in it (``oldest.txt``)
and with the newest, besides requirements.txt's exact pins.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

from course_utils.files import load_toml
from course_utils.tasks import FRAMEWORK_MODULES

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from course_lab import records

# Beside this file, not config.PROJECT_ROOT: tests/versions/run tests an installed wheel.
PYPROJECT = Path(__file__).parents[1] / "pyproject.toml"
OLDEST = Path(__file__).parent / "versions" / "oldest.txt"


def declared_floors() -> dict[str, Version]:
    """The lower bound of every package that pyproject.toml declares, by name."""
    project = load_toml(PYPROJECT)["project"]
    texts = project["dependencies"] + project["optional-dependencies"]["frameworks"]
    floors = {}
    for requirement in map(Requirement, texts):
        for clause in requirement.specifier:
            if clause.operator == ">=":
                floors[requirement.name] = Version(clause.version)
    return floors


def test_the_oldest_environment_pins_the_floor_of_each_declared_range() -> None:
    pins = [Requirement(line) for line in OLDEST.read_text().splitlines() if line and not line.startswith("#")]
    floors = declared_floors()
    for framework in ("torch", "tensorflow", "keras"):
        assert framework in {pin.name for pin in pins}, f"{OLDEST.name} must pin {framework}"
    for pin in pins:
        (clause,) = pin.specifier
        assert clause.operator == "==", f"{OLDEST.name}: pin {pin.name} exactly"
        # The floor's release series, at its last patch: torch>=2.4 is tested as torch 2.4.1.
        assert Version(clause.version).release[:2] == floors[pin.name].release[:2], (
            f"{OLDEST.name} pins {pin}, but pyproject.toml's floor is {pin.name}>={floors[pin.name]}"
        )


@pytest.mark.after_notebooks
def test_the_notebooks_ran_with_the_frameworks_installed_here() -> None:
    table = records.load_results(Path(os.environ["COURSE_RESULTS_DIR"]))
    if table.empty:
        pytest.skip("no notebook ran in this session, so there is no record to compare")
    for record in table.itertuples():
        installed = metadata.version(FRAMEWORK_MODULES[record.framework])
        # torch reports its build (2.4.1+cu121) where its package metadata may not (2.4.1).
        assert Version(record.framework_version).public == Version(installed).public, (
            f"{record.task}/{record.framework} ran with {record.framework_version}, but {installed} is installed: "
            "the notebook kernels do not use this environment"
        )
